"""XLSum (Hasan et al., 2021): BBC article -> one-sentence summary, per language.

Layout (the official per-language file names inside the XLSum v2.0 archives, which
the Hub's loading script reads as `<name>_train.jsonl`, `<name>_val.jsonl`,
`<name>_test.jsonl`):

    DATA_DIR/xlsum/<xlsum name>_<train|val|test>.jsonl   e.g. xlsum/spanish_train.jsonl

one JSON object per line with string fields `id, url, title, summary, text` (the
example record of github.com/csebuetnlp/xl-sum's README).
Our split "validation" is XLSum's "val". An example's inputs are the article
text, its targets and answer the reference summary.
"""

import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "CC BY-NC-SA 4.0"
SOURCE_URL = "https://huggingface.co/datasets/csebuetnlp/xlsum"
METRIC = "rouge_l"
SPLITS = ("train", "validation", "test")
FIELDS = ("id", "url", "title", "summary", "text")

# Our language code -> XLSum's language name (file prefix, and the Hub config name); the
# Hub archive is "data/<name>_XLSum_v2.0.tar.bz2" with the name as is, in lower case
# (e.g. "data/chinese_simplified_XLSum_v2.0.tar.bz2"; see xlt_jax/data/xlsum.py).
XLSUM_NAMES = {
    "ar": "arabic", "bn": "bengali", "en": "english", "es": "spanish", "fr": "french",
    "hi": "hindi", "ja": "japanese", "ko": "korean", "pt": "portuguese", "ru": "russian",
    "sw": "swahili", "te": "telugu", "th": "thai", "tr": "turkish", "zh": "chinese_simplified",
}
LANGUAGES = tuple(XLSUM_NAMES)
_OFFICIAL_SPLIT = {"train": "train", "validation": "val", "test": "test"}


def file_name(language: str, split: str) -> str:
  """The official name of one language x split file, e.g. "spanish_val.jsonl"."""
  return f"{XLSUM_NAMES[language]}_{_OFFICIAL_SPLIT[split]}.jsonl"


def path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "xlsum", file_name(language, split))


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Every well-formed article of the file; ids are "<task>:<line>"."""
  source = rows.require_file(path(data_dir, language, split), "XLSum")
  name = task_name("xlsum", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for line_number, row in rows.read_jsonl(source, problems):
    problem = rows.string_fields(row, FIELDS)
    if problem:
      problems.report(source, line_number, problem)
      continue
    examples.append(rows.example(name, line_number, language, row["text"].strip(),
                                 row["summary"].strip(), row["summary"].strip()))
  return problems.result(examples, [source])
