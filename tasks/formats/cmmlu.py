"""CMMLU (Li et al., 2023): Chinese four-way multiple choice in 67 subjects, 5-shot (P2).

Layout, the release archive's folders unchanged:

    DATA_DIR/cmmlu/<dev|test>/<subject>.csv

The release is the archive `cmmlu_v1_0_1.zip` of the Hub dataset haonan-li/cmmlu (the
dataset lm-evaluation-harness's `dataset_path: haonan-li/cmmlu` names; evaluation scripts
download https://huggingface.co/datasets/haonan-li/cmmlu/resolve/main/cmmlu_v1_0_1.zip,
and one reads its members under `dev/` and `test/` at the archive's root). The same files
are github.com/haonan-li/CMMLU data/dev/*.csv and data/test/*.csv: 67 subjects (the stems
equal lm-evaluation-harness's 67 `dataset_name`s), e.g. data/dev/agronomy.csv, whose
header is `,Question,A,B,C,D,Answer` (an unnamed row-index column first) and whose
Answer is a letter; dev holds 5 rows per subject.

Our split: test. Each test row's inputs are lm-evaluation-harness's 5-shot CMMLU prompt
(tasks/formats/mmlu_family.py): the subject's description ("以下是关于<科目>的单项选择题，
请直接给出正确答案的选项。", tasks/formats/chinese_exam_subjects.py), the subject's first five
dev rows with their answers, then the question ending "答案："; choices ["A", "B", "C",
"D"]; targets/answer the letter. Ids "<task>:<subject>/<row index>".
"""

import os

from tasks.formats import mmlu_family, rows
from tasks.formats.chinese_exam_subjects import CMMLU_DESCRIPTION, CMMLU_SUBJECTS
from tasks.naming import task_name

LICENCE = "CC BY-NC 4.0"
SOURCE_URL = "https://github.com/haonan-li/CMMLU"
HUB_REPO = "haonan-li/cmmlu"
HUB_ARCHIVE = "cmmlu_v1_0_1.zip"
METRIC = "multiple_choice_accuracy"
SPLITS = ("test",)
LANGUAGES = ("zh",)
FOLDERS = ("dev", "test")  # the archive's folders: few-shot pool, test set
COLUMNS = ("", "Question", "A", "B", "C", "D", "Answer")
CUE = "答案："


def subject_path(data_dir: str, folder: str, subject: str) -> str:
  return os.path.join(data_dir, "cmmlu", folder, f"{subject}.csv")


def path(data_dir: str, language: str, split: str) -> str:
  """The first subject's test file: a manifest's `source` (every file read is in the
  provenance's sources)."""
  del language, split
  return subject_path(data_dir, "test", next(iter(CMMLU_SUBJECTS)))


def _questions(source: str, subject: str, problems: rows.RowProblems) -> list:
  found = []
  for line_number, row in mmlu_family.read_csv(source, COLUMNS, problems):
    item, wrong = mmlu_family.row_question(f"{subject}/{row['']}", row, "Question", "Answer")
    if wrong:
      problems.report(source, line_number, wrong)
      continue
    found.append(item)
  return found


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Every subject's test rows with their 5-shot prompts; all 67 subjects must be there."""
  del language
  problems = rows.RowProblems(policy, os.path.join(data_dir, "cmmlu", "test"))

  def files(subject: str) -> tuple[str, str]:
    return (rows.require_file(subject_path(data_dir, "dev", subject), "CMMLU dev"),
            rows.require_file(subject_path(data_dir, "test", subject), "CMMLU test"))

  examples, sources = mmlu_family.load_subjects(
      task_name("cmmlu", "zh", split), "zh", CMMLU_SUBJECTS, CMMLU_DESCRIPTION, CUE, files,
      _questions, problems)
  rows.require_rows(problems.rows, "CMMLU", [os.path.join(data_dir, "cmmlu", "test")])
  return problems.result(examples, sources)
