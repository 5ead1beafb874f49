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
    options = [row[letter] for letter in mmlu_family.LETTERS]
    problem = mmlu_family.problem(options, row["Answer"]) or rows.string_fields(
        row, ("Question",))
    if problem:
      problems.report(source, line_number, problem)
      continue
    found.append(mmlu_family.Question(f"{subject}/{row['']}", row["Question"], tuple(options),
                                      row["Answer"]))
  return found


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  """Every subject's test rows with their 5-shot prompts; all 67 subjects must be there."""
  del language
  name = task_name("cmmlu", "zh", split)
  problems = rows.RowProblems(policy, os.path.join(data_dir, "cmmlu", "test"))
  examples, sources = [], []
  for subject, subject_name in CMMLU_SUBJECTS.items():
    dev_source = rows.require_file(subject_path(data_dir, "dev", subject), "CMMLU dev")
    test_source = rows.require_file(subject_path(data_dir, "test", subject), "CMMLU test")
    sources += [dev_source, test_source]
    # Exemplars are not test rows (a separate count keeps rows_read to this split), and a
    # malformed exemplar would change every prompt of the subject: none is tolerated.
    dev_problems = rows.RowProblems(rows.ReadPolicy(0.0), dev_source)
    pool = _questions(dev_source, subject, dev_problems)
    dev_problems.check()
    description = CMMLU_DESCRIPTION.format(subject_name)
    for item in _questions(test_source, subject, problems):
      shots = mmlu_family.shots_for(pool, item, mmlu_family.SHOTS, dev_source,
                                    leave_out_self=False)
      examples.append(mmlu_family.example(
          name, item, "zh", mmlu_family.few_shot_prompt(description, shots, item, CUE)))
  rows.require_rows(problems.rows, "CMMLU", [os.path.join(data_dir, "cmmlu", "test")])
  return problems.result(examples, sources)
