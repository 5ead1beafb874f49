"""MGSM accuracy of a predictions file, with the share of completions that state no number.

The answer is read from each completion exactly as the evaluation binary reads it
(`python -m xlt_jax.evaluate`, evaluator.py): `answers.extract_number` (the first number
after the last answer phrase of any MGSM language, else the last number) and
`answers.answers_match` (equal in value: "1,000" is 1000, "11.0" is 11). A completion with
no number at all is wrong and counted as invalid. So the eval binary's own
`eval/predictions.jsonl` (fields `language`, `prediction`, `answer`) scores the same
accuracy as its `eval/metrics.json`. The chain-of-thought styles (`mgsm_prompts`) are
scored as the evaluator's `cot_accuracy` scores them: `answers.final_number` (lm-eval's
flexible-extract) and `answers.exact_token_match` (its exact_match).
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


def score_by_language(examples: Iterable[Example],
                      chain_of_thought: bool = False) -> dict[str, dict[str, float]]:
  """Per language, in sorted order: accuracy and the share with no number.

  Args:
    chain_of_thought: score as the evaluator scores the chain-of-thought styles (P2's
      5-shot, P4's trigger phrases: `cot_accuracy`): the last number of the completion and
      lm-evaluation-harness's exact match against the normalised reference.

  Returns:
    {language: {"accuracy": share, "invalid": share}}, in 0-1.

  Raises:
    UserInputError: a reference answer that is not a number.
  """
  def item(example: Example) -> dict[str, float]:
    if chain_of_thought:
      extracted = answers.final_number(example.prediction)
      correct = answers.exact_token_match(extracted, answers.normalize_number(example.answer))
    else:
      extracted = answers.extract_number(example.prediction)
      correct = answers.answers_match(extracted, example.answer)
    return {"accuracy": float(correct), "invalid": float(extracted is None)}

  return prediction_files.mean_by_language((example.language, item(example))
                                           for example in examples)


def _is_number(value: object) -> bool:
  try:
    return isinstance(value, str) and bool(answers.normalize_number(value))
  except UserInputError:
    return False


def score_file(path: str, chain_of_thought: bool = False) -> dict[str, dict[str, float]]:
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
  return score_by_language(examples, chain_of_thought)
