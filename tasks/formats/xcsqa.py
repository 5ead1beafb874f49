"""X-CSQA (Lin et al., 2021): five-way commonsense questions in 16 languages (P3).

Layout, the official X-CSR release's X-CSQA folder unchanged:

    DATA_DIR/xcsqa/<folder>/<dev|test>.jsonl

where <folder> is the release's language folder: our code, except Japanese, whose
folder is `jap` (the release's 16 languages are en, zh, de, es, fr, it, jap, nl, pl,
pt, ru, ar, vi, hi, sw, ur: github.com/INK-USC/XCSR docs/dataset.md and its run
scripts' `langs`; the Hugging Face loader huggingface/datasets datasets/xcsr/xcsr.py
reads `X-CSR_datasets/X-CSQA/<lang>/{dev,test}.jsonl` from
https://inklab.usc.edu/XCSR/xcsr_datasets.zip with the same list).

One {"id", "lang", "question": {"stem", "choices": [{"label": "A".."E", "text"}]},
"answerKey"} per line; the release's test split has no answerKey ("hidden for test
data"), so its examples have targets and answer "". Our splits: validation (= dev),
test. inputs are the stem then one "<label>. <text>" line per choice; `choices` is
the JSON list of labels; targets/answer the answer key. Ids "<task>:<id>" (the id is
shared by all languages, so examples are parallel).
"""

import json
import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "MIT (X-CSR release; see its repository)"
SOURCE_URL = "https://inklab.usc.edu/XCSR/"
METRIC = "multiple_choice_accuracy"
SPLITS = ("validation", "test")
LANGUAGES = ("ar", "de", "en", "es", "fr", "hi", "it", "ja", "nl", "pl", "pt", "ru", "sw",
             "ur", "vi", "zh")
_OFFICIAL_SPLIT = {"validation": "dev", "test": "test"}
# Our code -> the release's folder, where they differ.
_FOLDERS = {"ja": "jap"}
RELEASE_URL = "https://inklab.usc.edu/XCSR/xcsr_datasets.zip"
RELEASE_DIRECTORY = "X-CSR_datasets/X-CSQA"  # inside the zip


def folder(language: str) -> str:
  """The release's folder of a language: our code, "jap" for "ja"."""
  return _FOLDERS.get(language, language)


def file_name(split: str) -> str:
  """The release's file of one of our splits: dev.jsonl (validation) or test.jsonl."""
  return f"{_OFFICIAL_SPLIT[split]}.jsonl"


def path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "xcsqa", folder(language), file_name(split))


def _problem(row: dict) -> str | None:
  question = row.get("question")
  if not isinstance(row.get("id"), str) or not isinstance(question, dict):
    return "needs a string 'id' and a 'question' object"
  choices = question.get("choices")
  if not isinstance(question.get("stem"), str) or not isinstance(choices, list) or not choices:
    return "question needs a 'stem' and 'choices'"
  if not all(isinstance(c, dict) and isinstance(c.get("label"), str)
             and isinstance(c.get("text"), str) for c in choices):
    return "each choice needs string 'label' and 'text'"
  key = row.get("answerKey")
  if key is not None and key not in [choice["label"] for choice in choices]:
    return f"answerKey {key!r} is not one of the choice labels"
  return None


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "X-CSQA")
  name = task_name("xcsqa", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for line_number, row in rows.read_jsonl(source, problems):
    problem = _problem(row)
    if problem:
      problems.report(source, line_number, problem)
      continue
    question = row["question"]
    lines = [question["stem"].strip()] + [f"{c['label']}. {c['text'].strip()}"
                                          for c in question["choices"]]
    key = row.get("answerKey") or ""
    examples.append(rows.example(name, row["id"], language, "\n".join(lines), key, key,
                                 choices=json.dumps([c["label"] for c in question["choices"]])))
  return problems.result(examples, [source])
