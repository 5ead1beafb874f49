"""Each dataset's metric (`Dataset.metric`), applied item by item to decoded predictions.

The evaluator records, per item, the answer extracted from the prediction and a dict
of scores; a language's value of each score is the mean over the items that have it.
Every metric reuses the scorer that `python -m xlt_jax.score` checks against its
outside reference: MGSM accuracy (`answers`; `cot_accuracy`: the chain-of-thought styles'
final number and exact match, as lm-evaluation-harness scores them), XL-Sum's multilingual ROUGE (`rouge`),
SQuAD EM/F1 (`qa_metrics`), API-call exact match (`api_calls`), and LCB's line- and
word-level language checks (`language_confusion`). Perplexity (`perplexity`) is computed
from log-likelihoods, not a prediction, and aggregated over the corpus.

`llm_judge` tasks (instruction following, open-ended QA) are scored by a judge model;
until one is configured their language fidelity is what is computed, and the task's
result says `"judge": "not configured"` rather than carrying a made-up score.
"""

import collections
import dataclasses
from collections.abc import Callable, Iterable

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import (
  answers,
  api_calls,
  language_confusion,
  perplexity,
  qa_metrics,
  qa_normalisation,
)
from xlt_jax.evaluation import rouge as xlsum_rouge


@dataclasses.dataclass(frozen=True)
class Item:
  """One decoded test item."""

  language: str
  prompt: str
  prediction: str
  answer: str  # the reference: a number, a summary, an answer span, a canonical call


Scorer = Callable[[Item], tuple[str | None, dict[str, float]]]  # -> (extracted, scores)


@dataclasses.dataclass(frozen=True)
class Metric:
  name: str  # a Dataset.metric value
  primary: str  # the score the report tabulates
  score: Scorer
  # A corpus-level metric's per-language values from its items' scores, in place of their
  # means (perplexity: exp(total NLL / total tokens)); None: the means are the values.
  aggregate: Callable[[list[dict[str, float]]], dict[str, float]] | None = None


def _accuracy(item: Item) -> tuple[str | None, dict[str, float]]:
  extracted = answers.extract_number(item.prediction)
  return extracted, {"accuracy": float(answers.answers_match(extracted, item.answer)),
                     "invalid": float(extracted is None)}


def _cot_accuracy(item: Item) -> tuple[str | None, dict[str, float]]:
  # P2's and P4's chain-of-thought styles: the last number, lm-eval's exact match.
  extracted = answers.final_number(item.prediction)
  return extracted, {"accuracy": float(answers.exact_token_match(extracted, item.answer)),
                     "invalid": float(extracted is None)}


_rouge_scorers: dict[str, object] = {}


def _rouge(item: Item) -> tuple[str | None, dict[str, float]]:
  language = xlsum_rouge.check_language(item.language)
  if language not in _rouge_scorers:  # segmenters and stemmers load once per language
    _rouge_scorers[language] = xlsum_rouge.scorer(language)
  scores = _rouge_scorers[language].score(item.answer, item.prediction)
  return None, {"rouge1": scores["rouge1"].fmeasure, "rouge2": scores["rouge2"].fmeasure,
                "rouge_l": scores["rougeL"].fmeasure}


def _squad(item: Item) -> tuple[str | None, dict[str, float]]:
  normalise = qa_normalisation.normaliser("squad", item.language)
  scores = qa_metrics.score(item.prediction, [item.answer], normalise)
  # include: P2's XQuAD "include" match (the reference within the generation).
  return None, {"exact_match": scores["exact_match"], "f1": scores["f1"],
                "include": scores["include"]}


def _api_call(item: Item) -> tuple[str | None, dict[str, float]]:
  predicted = api_calls.parse_call(item.prediction)
  reference = api_calls.parse_call(item.answer)
  if reference is None:
    raise UserInputError(f"reference call {item.answer!r} does not parse")
  matched = predicted is not None and api_calls.calls_match(predicted, reference)
  extracted = None if predicted is None else predicted.name
  return extracted, {"exact_match": float(matched), "invalid": float(predicted is None)}


def language_fidelity(item: Item) -> dict[str, float]:
  """LCB's per-completion checks (language_confusion's definitions): `line_pass` (no
  counted line in another language; absent when no line is long enough to count),
  `word_pass` (a line-clean completion without LCB's English words; WPR languages only)
  and `language_agreement` (the whole response's detected language is the prompt's)."""
  scores = {"language_agreement": float(
      language_confusion.detected_language(item.prediction) == item.language)}
  counts = language_confusion.count_group([item.prediction], item.language)
  if counts.lpr is not None:
    scores["line_pass"] = counts.lpr
  if counts.wpr is not None:
    scores["word_pass"] = counts.wpr
  return scores


def _multiple_choice(item: Item) -> tuple[str | None, dict[str, float]]:
  # The prediction is the chosen option: the evaluator picks it by log-likelihood
  # (`choice_scoring`, which adds lm-eval's acc_norm); a predictions file names it.
  extracted = item.prediction.strip()
  return extracted, {"accuracy": float(extracted == item.answer.strip())}


def _judged(item: Item) -> tuple[str | None, dict[str, float]]:
  return None, language_fidelity(item)


def _from_loglikelihoods(item: Item) -> tuple[str | None, dict[str, float]]:
  raise UserInputError("perplexity is computed from a model's log-likelihoods of the reference"
                       " text (the evaluator's `perplexity.score_items`), not from a prediction")


METRICS = {metric.name: metric for metric in (
    Metric("accuracy", "accuracy", _accuracy),
    Metric("cot_accuracy", "accuracy", _cot_accuracy),
    Metric("rouge_l", "rouge_l", _rouge),
    Metric("squad_exact_match", "exact_match", _squad),
    Metric("api_call_exact_match", "exact_match", _api_call),
    Metric("multiple_choice_accuracy", "accuracy", _multiple_choice),
    # Without a judge: the line-level pass rate (LCB's LPR) is what the table shows.
    Metric("llm_judge", "line_pass", _judged),
    # Held-out text scored by the engine's rolling log-likelihood (`perplexity`).
    Metric(perplexity.METRIC, "perplexity", _from_loglikelihoods, perplexity.aggregate),
)}
JUDGED = ("llm_judge",)
LOGLIKELIHOOD = ("multiple_choice_accuracy",)  # scored by the choices' log-likelihoods
ROLLING = (perplexity.METRIC,)  # scored by the reference text's rolling log-likelihood


def get(name: str) -> Metric:
  """The metric called `name`, or UserInputError naming the ones there are."""
  if name not in METRICS:
    raise UserInputError(f"no evaluation for metric {name!r}; the evaluator scores"
                         f" {', '.join(sorted(METRICS))}")
  return METRICS[name]


def mean_scores(scored: Iterable[dict[str, float]]) -> dict[str, float]:
  """Per score name, the mean over the items that have it (names in first-seen order)."""
  totals, counts = collections.defaultdict(float), collections.Counter()
  for scores in scored:
    for name, value in scores.items():
      totals[name] += value
      counts[name] += 1
  return {name: totals[name] / counts[name] for name in totals}


def language_scores(metric: Metric, scored: Iterable[dict[str, float]]) -> dict[str, float]:
  """A language's values of `metric`: the means of its items' scores (`mean_scores`), with
  a corpus-level metric's own aggregates in place of the means of the same names."""
  scored = list(scored)
  values = mean_scores(scored)
  if metric.aggregate is not None:
    values.update(metric.aggregate(scored))
  return values
