"""Chen et al.'s (2024) OASST test questions, human-translated: P2's "translated" open-ended QA.

Layout, the release's files unchanged:

    DATA_DIR/oasst_human_translated/test_<lang>.jsonl

The release is github.com/hplt-project/monolingual-multilingual-instruction-tuning
test-data/test_<lang>.jsonl (README "Test Data": English questions sampled from
Open-Assistant and human-translated into bg, bn, cs, es, fi, fr, hi, no, ru, zh; CC BY-NC
4.0): 50 lines per language, each {"id", "prompt"}, where `id` is the OASST message id
and is the same in every language (checked on the release: en, ru and zh line 1 are all
"50168627-eb95-4d5a-a2c8-d6ccbc00642c"). P2 uses es, ru and zh and judges the answers
(1-5 Likert, summed over the 50 questions).

Our split: test. inputs the prompt; there is no reference answer (targets and answer
""), the metric is an LLM judge. Ids "<task>:<id>" (parallel across languages).
"""

import os

from tasks.formats import rows
from tasks.naming import task_name

LICENCE = "CC BY-NC 4.0"
SOURCE_URL = "https://github.com/hplt-project/monolingual-multilingual-instruction-tuning"
URL = ("https://raw.githubusercontent.com/hplt-project/monolingual-multilingual-instruction-"
       "tuning/main/test-data/{}")
METRIC = "llm_judge"
SPLITS = ("test",)
LANGUAGES = ("en", "bg", "bn", "cs", "es", "fi", "fr", "hi", "no", "ru", "zh")


def file_name(language: str) -> str:
  return f"test_{language}.jsonl"


def path(data_dir: str, language: str, split: str) -> str:
  del split
  return os.path.join(data_dir, "oasst_human_translated", file_name(language))


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "translated OASST questions")
  name = task_name("oasst_human_translated", language, split)
  problems = rows.RowProblems(policy, source)
  examples = []
  for line_number, row in rows.read_jsonl(source, problems):
    problem = rows.string_fields(row, ("id", "prompt"))
    if problem:
      problems.report(source, line_number, problem)
      continue
    examples.append(rows.example(name, row["id"].strip(), language, row["prompt"].strip(), ""))
  rows.require_rows(problems.rows, "translated OASST questions", [source])
  return problems.result(examples, [source])
