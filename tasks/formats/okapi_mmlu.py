"""Okapi's MMLU (Lai et al., 2023): MMLU machine-translated by ChatGPT, 5-shot (P2's MT-MMLU).

Layout, the Okapi evaluation release's files unchanged:

    DATA_DIR/okapi_mmlu/<lang>_<dev|test>.json

The release is the folder http://nlp.uoregon.edu/download/okapi-eval/datasets/m_mmlu/
(github.com/nlp-uoregon/mlmm-evaluation scripts/download.sh mirrors
.../okapi-eval/datasets; loaders fetch e.g. m_mmlu/nl_dev.json from it), one
`<lang>_dev.json` and `<lang>_test.json` per language: the languages of mlmm-evaluation's
lm_eval/tasks/multilingual_mmlu.py `LANGS`. A forked lm-evaluation-harness reads these
files directly (`load_dataset("json", data_files={"test": ".../m_mmlu/{lang}_test.json",
"validation": ".../{lang}_dev.json"})`) with the fields `instruction`, `option_a`,
`option_b`, `option_c`, `option_d` and `answer`, the same fields lm-evaluation-harness's
`m_mmlu_<lang>` tasks read from the Hub copy alexandrainst/m_mmlu
(`lm_eval/tasks/okapi/mmlu_multilingual/_default_yaml`: `doc_to_text:
"{{instruction.strip()}}\\nA. {{option_a}}\\n...D. {{option_d}}\\nAnswer:"`, `doc_to_choice:
["A", "B", "C", "D"]`, `doc_to_target: answer`, `sampler: first_n`, no description). A
file may be a JSON list or JSON Lines (both load with `load_dataset("json")`); `answer`
is a letter (an index 0-3 is accepted and turned into its letter).

Our split: test. inputs the 5-shot prompt (the first five dev records with their
answers, then the question; tasks/formats/mmlu_family.py); choices ["A", "B", "C", "D"];
targets/answer the letter. Ids "<task>:<position>" (1-based record number).
"""

import os

from tasks.formats import alpaca_eval, mmlu_family, rows
from tasks.naming import task_name

LICENCE = "CC BY-NC 4.0"
SOURCE_URL = "https://github.com/nlp-uoregon/mlmm-evaluation"
URL = "http://nlp.uoregon.edu/download/okapi-eval/datasets/m_mmlu/{}"
METRIC = "multiple_choice_accuracy"
SPLITS = ("test",)
LANGUAGES = ("ar", "bn", "ca", "da", "de", "es", "eu", "fr", "gu", "hi", "hr", "hu", "hy", "id",
             "it", "kn", "ml", "mr", "ne", "nl", "pt", "ro", "ru", "sk", "sr", "sv", "ta", "te",
             "uk", "vi", "zh")
RELEASE_SPLITS = ("dev", "test")  # few-shot pool, evaluated split
OPTIONS = ("option_a", "option_b", "option_c", "option_d")
CUE = "Answer:"


def file_name(language: str, release_split: str) -> str:
  return f"{language}_{release_split}.json"


def release_path(data_dir: str, language: str, release_split: str) -> str:
  return os.path.join(data_dir, "okapi_mmlu", file_name(language, release_split))


def path(data_dir: str, language: str, split: str) -> str:
  del split
  return release_path(data_dir, language, "test")


def _answer(value: object) -> object:
  if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 4:
    return mmlu_family.LETTERS[value]
  return value.strip() if isinstance(value, str) else value


def questions(source: str, problems: rows.RowProblems) -> list[mmlu_family.Question]:
  """The well-formed records of one file, in order; the others go to `problems`."""
  found = []
  for position, record in alpaca_eval.records(source, problems):
    if not isinstance(record, dict):
      problems.report(source, f"item {position}", "not a JSON object")
      continue
    options = [record.get(option) for option in OPTIONS]
    answer = _answer(record.get("answer"))
    problem = mmlu_family.problem(options, answer) or rows.string_fields(
        record, ("instruction",))
    if problem:
      problems.report(source, f"item {position}", problem)
      continue
    found.append(mmlu_family.Question(str(position), record["instruction"], tuple(options),
                                      answer))
  return found


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  test_source = rows.require_file(path(data_dir, language, split), "Okapi MMLU test")
  dev_source = rows.require_file(release_path(data_dir, language, "dev"), "Okapi MMLU dev")
  dev_problems = rows.RowProblems(rows.ReadPolicy(0.0), dev_source)  # see mmlu_family.load_subjects
  pool = questions(dev_source, dev_problems)
  dev_problems.check()
  name = task_name("okapi_mmlu", language, split)
  problems = rows.RowProblems(policy, test_source)
  examples = []
  for item in questions(test_source, problems):
    shots = mmlu_family.shots_for(pool, item, mmlu_family.SHOTS, dev_source,
                                  leave_out_self=False)
    examples.append(mmlu_family.example(name, item, language,
                                        mmlu_family.few_shot_prompt("", shots, item, CUE)))
  rows.require_rows(problems.rows, "Okapi MMLU", [test_source])
  return problems.result(examples, [test_source, dev_source])
