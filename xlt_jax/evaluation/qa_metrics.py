"""Extractive-QA scores of generated answers (XQuAD, TyDi QA GoldP): exact match, F1, include.

Per item, against each of its references after a normalisation (`qa_normalisation.py`:
`squad`, the default, `mlqa` or `strict`), the best over the references, as the official
SQuAD v1.1 script takes `metric_max_over_ground_truths`:

- `exact_match`: 1 if the normalised prediction equals a normalised reference.
- `f1`: SQuAD's token F1 over the normalised strings' space-separated tokens (clipped
  counts of common tokens; 0 when none is common, also when both are empty).
- `include`: 1 if a normalised reference is a substring of the normalised prediction (P2's
  "include"); a reference that normalises to nothing is included only in an empty
  prediction.

Optionally the prediction is first post-processed as P3 did (`qa_postprocessing.py`).
Per language, each score is the mean over its items, in 0-1 (the scripts print 100 x).

What the studies used, as far as their papers say:

- P2 (Chen et al.), XQuAD es/ru/zh, 0-shot: "EM (strict string-level exact match)" and
  "include" (the reference is a substring of the generation); no normalisation is named,
  so `--normalisation strict` reads "strict" literally. TyDi QA (ru, 1-shot): F1, through
  lm-evaluation-harness with default settings and "SQuAD-style", so `squad`.
- P3 (Kew et al.), XQuAD: "correct if the answer string matches ground truth after
  minimal post-processing", the post-processing being `p3`; which match is not said.
- XTREME (github.com/google-research/xtreme, scripts/eval_qa.sh) scores XQuAD and TyDi
  QA GoldP with the SQuAD v1.1 script (`squad`) and only MLQA with MLQA's (`mlqa`).

Checked against the SQuAD v1.1 script, SQuAD 2.0's functions (which lm-evaluation-harness
0.4.13 uses for XQuAD, on the first answer only) and lm-evaluation-harness's copies of
MLQA's rule and of its TyDi QA rule: tests/test_qa_metrics.py.
"""

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import prediction_files, qa_normalisation, qa_postprocessing

SCORES = ("exact_match", "f1", "include")
# Where a predictions file may hold an item's reference answers (the first one present).
REFERENCE_FIELDS = ("reference", "answer", "answers")

Normalise = Callable[[str], str]


def exact_match(prediction: str, reference: str, normalise: Normalise) -> bool:
  return normalise(prediction) == normalise(reference)


def f1(prediction: str, reference: str, normalise: Normalise) -> float:
  """SQuAD v1.1's `f1_score` with `normalise` as the normalisation."""
  prediction_tokens = normalise(prediction).split()
  reference_tokens = normalise(reference).split()
  common = Counter(prediction_tokens) & Counter(reference_tokens)
  same = sum(common.values())
  if same == 0:
    return 0.0
  precision = 1.0 * same / len(prediction_tokens)
  recall = 1.0 * same / len(reference_tokens)
  return (2 * precision * recall) / (precision + recall)


def include(prediction: str, reference: str, normalise: Normalise) -> bool:
  """Whether the normalised reference occurs in the normalised prediction."""
  reference = normalise(reference)
  prediction = normalise(prediction)
  return reference in prediction if reference else not prediction


def score(prediction: str, references: Iterable[str], normalise: Normalise) -> dict[str, float]:
  """SCORES of one prediction: the best over its references (at least one)."""
  references = list(references)
  if not references:
    raise ValueError("an item needs at least one reference answer")
  return {
      "exact_match": float(max(exact_match(prediction, reference, normalise)
                               for reference in references)),
      "f1": max(f1(prediction, reference, normalise) for reference in references),
      "include": float(max(include(prediction, reference, normalise)
                           for reference in references)),
  }


@dataclasses.dataclass(frozen=True)
class Example:
  """One scored item: its language, the generated answer, the references, the question."""
  language: str
  prediction: str
  references: tuple[str, ...]
  question: str | None = None


def score_by_language(examples: Iterable[Example], normalisation: str = "squad",
                      postprocessing: str = "none") -> dict[str, dict[str, float]]:
  """Mean SCORES per language, languages in sorted order.

  Args:
    examples: items in any order and mix of languages.
    normalisation: one of qa_normalisation.NORMALISATIONS.
    postprocessing: one of qa_postprocessing.POSTPROCESSING ("p3" needs each question).

  Returns:
    {language: {"exact_match": mean, "f1": mean, "include": mean}}, in 0-1.
  """
  if postprocessing not in qa_postprocessing.POSTPROCESSING:
    raise ValueError(f"unknown post-processing {postprocessing!r}")
  def item(example: Example) -> dict[str, float]:
    prediction = example.prediction
    if postprocessing == "p3":
      if example.question is None:
        raise ValueError("P3's post-processing needs each item's question")
      prediction = qa_postprocessing.p3(prediction, example.question)
    normalise = qa_normalisation.normaliser(normalisation, example.language)
    scores = score(prediction, example.references, normalise)
    return {name: scores[name] for name in SCORES}

  return prediction_files.mean_by_language((example.language, item(example))
                                           for example in examples)


def _references(path: str, line_number: int, row: dict) -> tuple[str, ...]:
  """The reference answers of one line: a string, a list of strings, or SQuAD's answers
  ({"text": [...]} as Hugging Face datasets write it, or [{"text": ...}, ...])."""
  field, value = prediction_files.value(path, line_number, row, REFERENCE_FIELDS)
  if isinstance(value, dict) and "text" in value:
    value = value["text"]
  if isinstance(value, str):
    return (value,)
  if isinstance(value, list) and all(isinstance(item, dict) and "text" in item
                                     for item in value):
    value = [item["text"] for item in value]
  if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
    return tuple(value)
  raise prediction_files.line_error(
      path, line_number, f"field {field!r} must be a string or a non-empty list of strings"
      " (or SQuAD's answers with their 'text')")


def score_file(path: str, normalisation: str = "squad",
               postprocessing: str = "none") -> dict[str, dict[str, float]]:
  """`score_by_language` of a predictions file.

  Each line needs `language`, `prediction`, the references in the first of
  REFERENCE_FIELDS it has, and, for postprocessing "p3", `question`.

  Raises:
    UserInputError: a missing file or the first bad line, named by file and line.
  """
  fields = ("language", "prediction") + (("question",) if postprocessing == "p3" else ())
  examples = []
  for line_number, row in prediction_files.read_numbered(path, fields):
    if not row["language"]:
      raise prediction_files.line_error(path, line_number, "field 'language' is empty")
    examples.append(Example(row["language"], row["prediction"],
                            _references(path, line_number, row), row.get("question")))
  try:
    return score_by_language(examples, normalisation, postprocessing)
  except ValueError as error:  # an unknown option name: the binary's choices prevent it
    raise UserInputError(str(error)) from None
