"""XNLI (Conneau et al., 2018): premise/hypothesis pairs in 15 languages, parallel ids.

Layout, the official XNLI-1.0 files:

    DATA_DIR/xnli/xnli.<dev|test>.tsv

tab-separated with a header naming at least `language, gold_label, sentence1,
sentence2, pairID`. Our splits: validation (= dev), test. inputs are the
premise and the hypothesis on two lines; `choices` is the JSON list
["entailment", "neutral", "contradiction"]; targets/answer the gold label.
Ids "<task>:<pairID>" (parallel across languages). A language without rows fails,
naming the `language` values the file has.
"""

import csv
import json
import os

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError

LICENCE = "CC BY-NC 4.0"
SOURCE_URL = "https://github.com/facebookresearch/XNLI"
URL = "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip"
METRIC = "multiple_choice_accuracy"
SPLITS = ("validation", "test")
LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur",
             "vi", "zh")
LABELS = ("entailment", "neutral", "contradiction")
COLUMNS = ("language", "gold_label", "sentence1", "sentence2", "pairID")
_OFFICIAL_SPLIT = {"validation": "dev", "test": "test"}


def path(data_dir: str, language: str, split: str) -> str:
  del language
  return os.path.join(data_dir, "xnli", f"xnli.{_OFFICIAL_SPLIT[split]}.tsv")


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "XNLI")
  name = task_name("xnli", language, split)
  problems = rows.RowProblems(policy, f"{source} ({language})")
  codes = rows.LanguageField("xnli", source, "language", language)
  examples = []
  with paths.open(source, encoding="utf-8", newline="") as file:
    reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
      raise DataFormatError(f"{source}:1: header lacks {', '.join(missing)}")
    for row in reader:
      codes.seen(row["language"], row["language"] == language)
      if row["language"] != language:
        continue
      problems.seen()
      if row["gold_label"] not in LABELS or not row["sentence1"] or not row["sentence2"]:
        problems.report(source, reader.line_num, f"gold_label {row['gold_label']!r} not in"
                        f" {LABELS} or an empty sentence")
        continue
      examples.append(rows.example(name, row["pairID"], language,
                                   f"{row['sentence1'].strip()}\n{row['sentence2'].strip()}",
                                   row["gold_label"], row["gold_label"],
                                   choices=json.dumps(LABELS)))
  result = problems.result(examples, [source])
  codes.check()  # after the malformed-row check: it names bad lines
  return result
