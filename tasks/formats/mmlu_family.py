"""What the MMLU-family readers share: lm-evaluation-harness's prompt and its 5-shot context.

CMMLU, C-Eval, Okapi's machine-translated MMLU and OpenAI's MMMLU are four-way
multiple-choice sets scored by the log-likelihood of the answer letter, as
lm-evaluation-harness does (P2 evaluates them with it, "default settings"). Its task
yamls (EleutherAI/lm-evaluation-harness at 4e7e0d4: `lm_eval/tasks/cmmlu/_default_template_yaml`,
`ceval/_default_ceval_yaml`, `okapi/mmlu_multilingual/_default_yaml`,
`openai-mmmlu/default/_default_template_yaml`) all render a question as

    {question.strip()}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\n{cue}

with cue "答案：" (CMMLU, C-Eval) or "Answer:", choices ["A", "B", "C", "D"], and
draw the few-shot exemplars with `sampler: first_n`: the first n rows of the few-shot
split in file order, the evaluated row itself left out when the few-shot split is the
evaluated one (`lm_eval/api/samplers.py`, FirstNSampler and rm_eval_doc). The context is
the task's description, then each exemplar's question, `target_delimiter` " " and its
answer letter, each followed by `fewshot_delimiter` "\\n\\n", then the question
(`lm_eval/api/task.py`, fewshot_context and build_qa_turn; delimiters from
`lm_eval/config/task.py`).
"""

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator

from tasks.formats import rows
from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError

LETTERS = ("A", "B", "C", "D")
SHOTS = 5  # P2: CMMLU, C-Eval, MT-MMLU and HT-MMLU are 5-shot
TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"


@dataclasses.dataclass(frozen=True)
class Question:
  """One row of a release: its key, question, the four options in letter order, answer letter."""

  key: str
  question: str
  options: tuple[str, str, str, str]
  answer: str


def question_text(item: Question, cue: str) -> str:
  """The question as lm-evaluation-harness's MMLU-family `doc_to_text` renders it."""
  lines = [item.question.strip()] + [f"{letter}. {option}"
                                     for letter, option in zip(LETTERS, item.options)]
  return "\n".join(lines) + "\n" + cue


def first_n(pool: list[Question], n: int, leave_out: str | None = None) -> list[Question]:
  """The first `n` of `pool` in order, without the row keyed `leave_out` (lm-eval's first_n).

  Fewer than `n` come back only when the pool holds fewer; callers check.
  """
  return [item for item in pool if item.key != leave_out][:n]


def few_shot_prompt(description: str, shots: list[Question], item: Question, cue: str) -> str:
  """description + each shot's question, " ", its letter and "\\n\\n", then the question."""
  context = "".join(question_text(shot, cue) + TARGET_DELIMITER + shot.answer + FEWSHOT_DELIMITER
                    for shot in shots)
  return description + context + question_text(item, cue)


def problem(options: list, answer: object) -> str | None:
  """None when the four options are strings and the answer one of A-D, else what is wrong
  (for a malformed-row report). An empty option is kept: lm-evaluation-harness renders it
  as "C. " and the question stays answerable."""
  if len(options) != 4 or not all(isinstance(option, str) for option in options):
    return "needs four options A-D, each a string"
  if answer not in LETTERS:
    return f"answer {answer!r} is not one of {', '.join(LETTERS)}"
  return None


def row_question(key: str, row: dict, question_column: str,
                 answer_column: str) -> tuple[Question | None, str | None]:
  """(the row as a Question, None), or (None, what is wrong) for a malformed-row report: the
  options under A-D, the question and answer letter under the release's own column names."""
  options = [row[letter] for letter in LETTERS]
  wrong = problem(options, row[answer_column]) or rows.string_fields(row, (question_column,))
  if wrong:
    return None, wrong
  return Question(key, row[question_column], tuple(options), row[answer_column]), None


def load_subjects(task: str, language: str, subjects: dict[str, str], description: str,
                  cue: str, files: Callable[[str], tuple[str, str]],
                  read: Callable[[str, str, rows.RowProblems], list[Question]],
                  problems: rows.RowProblems) -> tuple[list[dict[str, str]], list[str]]:
  """Every subject's evaluated rows with their 5-shot prompts (CMMLU, C-Eval).

  Args:
    subjects: subject -> its name in the description (`description.format(name)`).
    files: subject -> (few-shot pool file, evaluated file), each checked to exist.
    read: (file, subject, problems) -> the file's well-formed questions, reporting the others.
    problems: the evaluated rows' counts (the pool's are kept apart).

  Returns:
    (examples in subject order, every file read). Guarantees each prompt has the subject's
    first SHOTS pool rows: a malformed pool row raises DataFormatError, since it would change
    every prompt of the subject.
  """
  examples, sources = [], []
  for subject, subject_name in subjects.items():
    pool_source, evaluated_source = files(subject)
    sources += [pool_source, evaluated_source]
    # Exemplars are not evaluated rows (a separate count keeps rows_read to this split), and
    # a malformed exemplar would change every prompt of the subject: none is tolerated.
    pool_problems = rows.RowProblems(rows.ReadPolicy(0.0), pool_source)
    pool = read(pool_source, subject, pool_problems)
    pool_problems.check()
    for item in read(evaluated_source, subject, problems):
      shots = shots_for(pool, item, SHOTS, pool_source, leave_out_self=False)
      examples.append(example(task, item, language, few_shot_prompt(
          description.format(subject_name), shots, item, cue)))
  return examples, sources


def example(task: str, item: Question, language: str, prompt: str) -> dict[str, str]:
  """The example of `item`: inputs `prompt`, choices the letters, targets and answer its letter."""
  return rows.example(task, item.key, language, prompt, item.answer, item.answer,
                      choices=json.dumps(LETTERS))


def shots_for(pool: list[Question], item: Question, shots: int, source: str,
              leave_out_self: bool) -> list[Question]:
  """`shots` exemplars for `item` from `pool` (first_n), or DataFormatError naming `source`
  when the pool is too small."""
  chosen = first_n(pool, shots, item.key if leave_out_self else None)
  if len(chosen) < shots:
    raise DataFormatError(f"{source}: {len(chosen)} few-shot exemplars for {item.key}, need"
                          f" {shots}")
  return chosen


def read_csv(source: str, columns: tuple[str, ...],
             problems: rows.RowProblems) -> Iterator[tuple[int, dict[str, str]]]:
  """(line number, row) of a CSV release with a header naming at least `columns`; every row
  counts (`problems.seen()`). DataFormatError names a header without them."""
  with paths.open(source, encoding="utf-8-sig", newline="") as file:
    reader = csv.DictReader(file)
    missing = [column for column in columns if column not in (reader.fieldnames or [])]
    if missing:
      raise DataFormatError(f"{source}:1: header lacks {', '.join(missing)}; it has"
                            f" {', '.join(reader.fieldnames or [])}")
    for row in reader:
      problems.seen()
      yield reader.line_num, row
