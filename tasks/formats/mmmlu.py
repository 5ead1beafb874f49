"""MMMLU: OpenAI's professional human translations of MMLU's test set, 5-shot (P2's HT-MMLU).

Layout, the Hub dataset openai/MMMLU's files unchanged:

    DATA_DIR/mmmlu/test/mmlu_<LOCALE>.csv

The Hub repository's test/ folder holds one csv per locale, mmlu_AR-XY.csv ...
mmlu_ZH-CN.csv (its tree: AR-XY BN-BD DE-DE ES-LA FR-FR HI-IN ID-ID IT-IT JA-JP KO-KR PT-BR
SW-KE YO-NG ZH-CN; the card's `by_language` config misspells the last as ZN-CN), with
the columns `Question, A, B, C, D, Answer, Subject` (lm-evaluation-harness
`lm_eval/tasks/openai-mmmlu/README.md`); early versions also had an unnamed index column
first ("Remove unnamed column from data"), which is ignored. There is no dev split, so,
as lm-evaluation-harness's `mmmlu_<locale>_<subject>` tasks do
(`openai-mmmlu/default/_default_template_yaml`: `fewshot_split: test`, `sampler:
first_n`; `default/utils.py` filters `Subject`, cutting a stray "_test.csv..." or
"_test-..." suffix), a question's five exemplars are the first five other questions of
its subject, and the description is "The following are multiple choice questions (with
answers) about <subject, underscores as spaces> (<language>).\\n\\n" with the language
names of `openai-mmmlu/languages.json`. P2 uses es and zh (MMMLU has no ru); the notes
in papers.md take its HT-MMLU demonstrations to be MT-MMLU's for the same question, which
P2 does not spell out, so the harness's own rule is used here.

Our split: test. inputs the 5-shot prompt ending "Answer:" (tasks/formats/mmlu_family.py);
choices ["A", "B", "C", "D"]; targets/answer the letter. Ids "<task>:<row index>" (0-based
data row; the locales are row-parallel translations of MMLU's test set).
"""

import os

from tasks.formats import mmlu_family, rows
from tasks.naming import task_name

LICENCE = "MIT"
SOURCE_URL = "https://huggingface.co/datasets/openai/MMMLU"
HUB_REPO = "openai/MMMLU"
METRIC = "multiple_choice_accuracy"
SPLITS = ("test",)
# Our code -> (the release's locale, lm-evaluation-harness's display name).
LOCALES = {
    "ar": ("AR-XY", "Arabic"), "bn": ("BN-BD", "Bengali"), "de": ("DE-DE", "German"),
    "es": ("ES-LA", "Spanish"), "fr": ("FR-FR", "French"), "hi": ("HI-IN", "Hindi"),
    "id": ("ID-ID", "Indonesian"), "it": ("IT-IT", "Italian"), "ja": ("JA-JP", "Japanese"),
    "ko": ("KO-KR", "Korean"), "pt": ("PT-BR", "Brazilian Portuguese"),
    "sw": ("SW-KE", "Swahili"), "yo": ("YO-NG", "Yoruba"), "zh": ("ZH-CN", "Simplified Chinese"),
}
LANGUAGES = tuple(LOCALES)
COLUMNS = ("Question", "A", "B", "C", "D", "Answer", "Subject")
CUE = "Answer:"
DESCRIPTION = "The following are multiple choice questions (with answers) about {} ({}).\n\n"
_SUBJECT_SUFFIXES = ("_test.csv", "_test-")


def hub_file(language: str) -> str:
  return f"test/mmlu_{LOCALES[language][0]}.csv"


def path(data_dir: str, language: str, split: str) -> str:
  del split
  return os.path.join(data_dir, "mmmlu", hub_file(language))


def subject(value: str) -> str:
  """The canonical subject of a `Subject` cell ("college_mathematics_test.csv_sw-KE.csv" ->
  "college_mathematics"), as lm-evaluation-harness normalises it."""
  for marker in _SUBJECT_SUFFIXES:
    if marker in value:
      return value[:value.index(marker)]
  return value


def load(data_dir: str, language: str, split: str, policy: rows.ReadPolicy) -> rows.LoadResult:
  source = rows.require_file(path(data_dir, language, split), "MMMLU")
  name = task_name("mmmlu", language, split)
  problems = rows.RowProblems(policy, source)
  by_subject: dict[str, list[mmlu_family.Question]] = {}
  for number, (line_number, row) in enumerate(mmlu_family.read_csv(source, COLUMNS, problems)):
    options = [row[letter] for letter in mmlu_family.LETTERS]
    problem = mmlu_family.problem(options, row["Answer"]) or rows.string_fields(
        row, ("Question", "Subject"))
    if problem:
      problems.report(source, line_number, problem)
      continue
    by_subject.setdefault(subject(row["Subject"]), []).append(
        mmlu_family.Question(str(number), row["Question"], tuple(options), row["Answer"]))
  rows.require_rows(problems.rows, "MMMLU", [source])
  examples = []
  for subject_name, questions in by_subject.items():
    description = DESCRIPTION.format(subject_name.replace("_", " "), LOCALES[language][1])
    for item in questions:
      shots = mmlu_family.shots_for(questions, item, mmlu_family.SHOTS, source,
                                    leave_out_self=True)
      examples.append(mmlu_family.example(
          name, item, language, mmlu_family.few_shot_prompt(description, shots, item, CUE)))
  examples.sort(key=lambda example: int(example["id"].rsplit(":", 1)[1]))  # file order
  return problems.result(examples, [source])
