"""mCoT-MATH (Lai & Nissim, 2024): machine-translated math questions with chain-of-thought.

The release (https://huggingface.co/datasets/laihuiyuan/mCoT-MATH, files listed at
/tree/main) is one ~11.6 GB JSON list, `mcot_math.json`, of records holding a question,
its chain-of-thought answer and a language code: `question`, `answer` and `lang`, an
ISO 639-1 code of the card's 11 languages (sw bn te th ja zh ru es fr de en). A newer
upload, `lang-id/mcot-math.json`, names the language field `"lang-id"` instead; both
files are accepted. `python -m xlt_jax.data prepare mcot_math` streams either into

    DATA_DIR/mcot_math/<train|validation>/<lang>.jsonl

one original record per line plus `"index"`, its position in the release (so ids
trace back to the source). The validation split is a seeded hash-selected share
of each language carved at preparation (the release has one split only).

Field names: a record's question is the first present of QUESTION_FIELDS, its answer
of ANSWER_FIELDS and its language of LANGUAGE_FIELDS (the release's names first; the
others are tolerated), the language read through language_codes.base_language (so
"sw" and "sw-KE" are both `sw`). The example's `answer` is the number the chain of
thought ends with (MGSM-style extraction), or "" when it states none.
"""

import os
from typing import Any

from tasks.formats import language_codes, rows
from tasks.naming import task_name
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers

LICENCE = "Apache-2.0"
SOURCE_URL = "https://huggingface.co/datasets/laihuiyuan/mCoT-MATH"
HUB_REPO = "laihuiyuan/mCoT-MATH"
HUB_FILE = "mcot_math.json"
HUB_FILE_LANG_ID = "lang-id/mcot-math.json"  # the newer upload, "lang-id" field
METRIC = "accuracy"
SPLITS = ("train", "validation")
LANGUAGES = ("sw", "bn", "te", "th", "ja", "zh", "ru", "es", "fr", "de", "en")
QUESTION_FIELDS = ("question", "query", "instruction", "input")
ANSWER_FIELDS = ("answer", "response", "output")
LANGUAGE_FIELDS = ("lang", "lang-id", "language")


def path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "mcot_math", split, f"{language}.jsonl")


def first_string(row: dict[str, Any], candidates: tuple[str, ...]) -> str | None:
  """The first of `candidates` that `row` holds as a non-empty string, or None."""
  for field in candidates:
    value = row.get(field)
    if isinstance(value, str) and value.strip():
      return value
  return None


def record_language(record: Any) -> str | None:
  """The ISO 639-1 code of a release record's language field, or None."""
  if not isinstance(record, dict):
    return None
  return language_codes.base_language(first_string(record, LANGUAGE_FIELDS))


def _final_answer(chain_of_thought: str) -> str:
  try:
    return answers.extract_number(chain_of_thought) or ""
  except UserInputError:  # an unparsable number in a long CoT is not a malformed row
    return ""


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Every well-formed record of the language's file; ids are "<task>:<line>"."""
  source = rows.require_file(path(data_dir, language, split), "mCoT-MATH (prepared)")
  name = task_name("mcot_math", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for line_number, row in rows.read_jsonl(source, problems):
    question = first_string(row, QUESTION_FIELDS)
    chain_of_thought = first_string(row, ANSWER_FIELDS)
    if question is None or chain_of_thought is None:
      problems.report(source, line_number, f"no question ({'/'.join(QUESTION_FIELDS)}) or"
                      f" answer ({'/'.join(ANSWER_FIELDS)}) string")
      continue
    examples.append(rows.example(name, line_number, language, question.strip(),
                                 chain_of_thought.strip(), _final_answer(chain_of_thought)))
  return problems.result(examples, [source])
