"""P1's training set: LIMA + OpenAssistant English first turns and their translations, parallel.

English is read from both official sources, unchanged (see lima.py and oasst.py):

    DATA_DIR/lima/train.jsonl          LIMA train, first turns
    DATA_DIR/oasst1/train.parquet      OASST1 English root prompts with their rank-0 reply

Each English item has a key naming its source row: "lima.<line>" (1-based line of
LIMA's train.jsonl) or "oasst.<message_id>" (the OASST prompt). P1 did not release its
translations, so their layout is ours:

    DATA_DIR/lima_oasst/<lang>/train.jsonl

one {"parallel_id": <the English item's key>, "conversations": [prompt, reply]} per
line (LIMA's format plus the key), each translating exactly one English item, in any
order. Every example, English or not, has id "<task>:<key>" and `parallel_id` = key,
so tasks/selection.py pools a translation with its English original.

P1 uses 1,000 LIMA + 3,640 OASST first turns (4,640). We keep every first turn the
official files give (LIMA's train.jsonl has 1,030 rows; the OASST count depends on
the release and the rank-0 rule) [AMBIGUOUS: P1 does not say how it chose its 3,640];
a study's budgets then fail loudly if the files hold fewer items than it needs.
"""

import dataclasses
import os

from tasks.formats import lima, oasst, rows
from tasks.naming import task_name

LICENCE = f"LIMA: {lima.LICENCE}; OASST1: {oasst.LICENCE}; translations: the user's"
SOURCE_URL = f"{lima.SOURCE_URL} + {oasst.SOURCE_URL}"
METRIC = "llm_judge"
SPLITS = ("train",)
# P1 Table 2's 12 languages and its §4.1 Slavic languages.
LANGUAGES = ("en", "ar", "cs", "es", "et", "fi", "he", "hi", "it", "ru", "sw", "zh",
             "hr", "pl", "sk", "sl", "sr")
SOURCES = ("lima", "oasst")


def path(data_dir: str, language: str, split: str) -> str:
  """The translation file of `language`; for English, LIMA's file (OASST's is `paths`)."""
  if language == "en":
    return lima.path(data_dir, "en", split)
  return os.path.join(data_dir, "lima_oasst", language, f"{split}.jsonl")


def _english(data_dir: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  name = task_name("lima_oasst", "en", split)
  examples, sources, filtered = [], [], {}
  rows_read = malformed = 0
  problems: list[str] = []
  for source, module in (("lima", lima), ("oasst", oasst)):
    rows.require_file(module.path(data_dir, "en", split), f"lima_oasst English ({source})")
  for source, module in (("lima", lima), ("oasst", oasst)):
    part = module.load(data_dir, "en", split, policy)
    for example in part.examples:
      key = f"{source}.{example['id'].rsplit(':', 1)[-1]}"
      examples.append({**example, "id": f"{name}:{key}", "parallel_id": key})
    sources += part.sources
    rows_read += part.rows_read
    malformed += part.malformed
    problems += part.problems
    for reason, count in part.filtered.items():
      filtered[reason] = filtered.get(reason, 0) + count
  return rows.LoadResult(examples, sources, rows_read, malformed,
                         problems[:rows.QUOTED_PROBLEMS], filtered)


def _translation(data_dir: str, language: str, split: str,
                 policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), f"lima_oasst {language} translation")
  name = task_name("lima_oasst", language, split)
  problems = rows.RowProblems(policy, source)
  examples, seen = [], {}
  for line_number, row in rows.read_jsonl(source, problems):
    key = rows.parallel_id(row)
    turns = row.get("conversations")
    if not key or isinstance(key, str):
      problem = key or "no 'parallel_id' (the key of the English item it translates)"
    elif not (isinstance(turns, list) and len(turns) >= 2
              and all(isinstance(turn, str) and turn.strip() for turn in turns[:2])):
      problem = "'conversations' is not a list of at least 2 non-empty strings"
    elif key["parallel_id"] in seen:
      problem = f"parallel_id {key['parallel_id']!r} already used at line {seen[key['parallel_id']]}"
    else:
      problem = None
    if problem:
      problems.report(source, line_number, problem)
      continue
    seen[key["parallel_id"]] = line_number
    examples.append(rows.example(name, key["parallel_id"], language, turns[0].strip(),
                                 turns[1].strip(), **key))
  return problems.result(examples, [source])


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """English from LIMA + OASST, any other language from its translation file."""
  if language == "en":
    return _english(data_dir, split, policy)
  result = _translation(data_dir, language, split, policy)
  return dataclasses.replace(result, tags={"translated_from": "en"})
