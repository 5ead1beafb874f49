"""MGSM accuracy of a predictions file, with the share of completions that state no number.

The answer is read from each completion exactly as the evaluation binary reads it
(`python -m xlt_jax.evaluate`, evaluator.py): `answers.extract_number` (the first number
after the last answer phrase of any MGSM language, else the last number) and
`answers.answers_match` (equal in value: "1,000" is 1000, "11.0" is 11). A completion with
no number at all is wrong and counted as invalid. So the eval binary's own
`eval/predictions.jsonl` (fields `language`, `prediction`, `answer`) scores the same
accuracy as its `eval/metrics.json`.
"""

import dataclasses
from collections.abc import Iterable

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers, prediction_files

SCORES = ("accuracy", "invalid")
# Where a predictions file may hold an item's reference number (the first one present).
REFERENCE_FIELDS = ("answer", "reference")


@dataclasses.dataclass(frozen=True)
class Example:
  """One scored item: its language, the model's completion and the reference number."""
  language: str
  prediction: str
  answer: str


def score_by_language(examples: Iterable[Example]) -> dict[str, dict[str, float]]:
  """Per language, in sorted order: accuracy and the share with no number.

  Returns:
    {language: {"accuracy": share, "invalid": share}}, in 0-1.

  Raises:
    UserInputError: a reference answer that is not a number.
  """
  def item(example: Example) -> dict[str, float]:
    extracted = answers.extract_number(example.prediction)
    return {"accuracy": float(answers.answers_match(extracted, example.answer)),
            "invalid": float(extracted is None)}

  return prediction_files.mean_by_language((example.language, item(example))
                                           for example in examples)


def _is_number(value: object) -> bool:
  try:
    return isinstance(value, str) and bool(answers.normalize_number(value))
  except UserInputError:
    return False


def score_file(path: str) -> dict[str, dict[str, float]]:
  """`score_by_language` of a predictions file.

  Each line needs `language`, `prediction` and the reference number in `answer` (or
  `reference`), a string ("1,000") or a JSON number.

  Raises:
    UserInputError: a missing file or the first bad line (including a reference that is
      not a number), named by file and line.
  """
  examples = []
  for line_number, row in prediction_files.read_numbered(path, ("language", "prediction")):
    field, value = prediction_files.value(path, line_number, row, REFERENCE_FIELDS)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      value = str(value)
    if not _is_number(value):
      raise prediction_files.line_error(
          path, line_number, f"field {field!r} is not a number: {value!r}")
    examples.append(Example(row["language"], row["prediction"], value))
  return score_by_language(examples)
