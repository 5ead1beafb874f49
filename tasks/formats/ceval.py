"""C-Eval (Huang et al., 2023): Chinese four-way multiple choice in 52 subjects, 5-shot (P2).

Layout, the Hub dataset ceval/ceval-exam's parquet files, one folder per subject:

    DATA_DIR/ceval/<subject>/<dev|val>.parquet

The Hub card (https://huggingface.co/datasets/ceval/ceval-exam/blob/1577cea73fafe135738871aca0d5339994dbb41d/README.md,
"Convert dataset to Parquet") gives each subject configuration the files
`<subject>/test-*`, `<subject>/val-*` and `<subject>/dev-*` (parquet) with the features
`id` (int32), `question`, `A`, `B`, `C`, `D`, `answer`, `explanation` (its example: `{'id':
0, ..., 'A': '1', 'B': '2', 'C': '3', 'D': '4', 'answer': 'C', 'explanation': ''}`); dev
holds five exemplars per subject ("with explanations for few-shot evaluation"), and
"Labels on the test split are not released", so, as lm-evaluation-harness's
`ceval-valid_<subject>` tasks do (`lm_eval/tasks/ceval/_default_ceval_yaml`, EleutherAI
commit 517aadc: `dataset_path: ceval/ceval-exam`, `validation_split: val`, `fewshot_split:
dev`, `sampler: first_n`, and no test_split), only val is evaluated.
`prepare ceval` stores each `<subject>/<split>-*.parquet` as `<subject>/<split>.parquet`.

Our split: validation (= val). inputs are lm-evaluation-harness's 5-shot C-Eval prompt
(tasks/formats/mmlu_family.py): the description "以下是中国关于<科目>的单项选择题，请选出其中的
正确答案。", the subject's first five dev rows with their answers, the question ending
"答案："; choices ["A", "B", "C", "D"]; targets/answer the letter. Ids
"<task>:<subject>/<id>".
"""

import os

from tasks.formats import mmlu_family, rows
from tasks.formats.chinese_exam_subjects import CEVAL_DESCRIPTION, CEVAL_SUBJECTS
from tasks.naming import task_name

LICENCE = "CC BY-NC-SA 4.0"
SOURCE_URL = "https://huggingface.co/datasets/ceval/ceval-exam"
HUB_REPO = "ceval/ceval-exam"
METRIC = "multiple_choice_accuracy"
SPLITS = ("validation",)
LANGUAGES = ("zh",)
HUB_SPLITS = ("dev", "val")  # few-shot pool, evaluated split
COLUMNS = ("id", "question", "A", "B", "C", "D", "answer")
CUE = "答案："


def subject_path(data_dir: str, subject: str, hub_split: str) -> str:
  return os.path.join(data_dir, "ceval", subject, f"{hub_split}.parquet")


def path(data_dir: str, language: str, split: str) -> str:
  """The first subject's val file: a manifest's `source` (every file read is in the
  provenance's sources)."""
  del language, split
  return subject_path(data_dir, next(iter(CEVAL_SUBJECTS)), "val")


def _questions(source: str, subject: str, problems: rows.RowProblems) -> list:
  found = []
  for number, row in enumerate(rows.read_parquet(source, COLUMNS).to_pylist()):
    problems.seen()
    item, wrong = mmlu_family.row_question(f"{subject}/{row['id']}", row, "question", "answer")
    if wrong or row["id"] is None:
      problems.report(source, f"row {number}", wrong or "no id")
      continue
    found.append(item)
  return found


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Every subject's val rows with their 5-shot prompts; all 52 subjects must be there."""
  del language
  problems = rows.RowProblems(policy, os.path.join(data_dir, "ceval"))

  def files(subject: str) -> tuple[str, str]:
    return (rows.require_file(subject_path(data_dir, subject, "dev"), "C-Eval dev"),
            rows.require_file(subject_path(data_dir, subject, "val"), "C-Eval val"))

  examples, sources = mmlu_family.load_subjects(
      task_name("ceval", "zh", split), "zh", CEVAL_SUBJECTS, CEVAL_DESCRIPTION, CUE, files,
      _questions, problems)
  rows.require_rows(problems.rows, "C-Eval", [os.path.join(data_dir, "ceval")])
  return problems.result(examples, sources)
