"""Checkpoint selection rules (xlt_jax/evaluation/checkpoint_selection.py): the arithmetic of
max_validation_score on hand-made decodings, and the errors for bad settings. The rule is
run end to end on a trained run in tests/test_launch.py (slow)."""

import math

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import checkpoint_selection as selection


def _set(dataset, language, metric, answers):
  return selection.ValidationSet(dataset, language, metric, [
      {"id": str(i), "inputs": f"q{i}", "targets": f"The answer is {a}.", "answer": str(a)}
      for i, a in enumerate(answers)])


def test_validation_score_is_the_mean_over_datasets_of_the_mean_over_languages():
  sets = [_set("mcot_math", "en", "accuracy", [1, 2, 3, 4]),
          _set("mcot_math", "es", "accuracy", [5, 6]),
          _set("xlsum", "en", "rouge_l", ["apple"])]
  replies = {("mcot_math", "en"): ["1", "2", "0", "0"], ("mcot_math", "es"): ["5", "6"],
             ("xlsum", "en"): ["apple"]}
  result = selection.validation_score(sets, lambda s: replies[(s.dataset, s.language)])
  # mcot_math: en 2/4 = 0.5, es 1.0 -> 0.75; xlsum: identical text -> ROUGE-L 1.0.
  assert result["datasets"] == {"mcot_math": {"en": 0.5, "es": 1.0}, "xlsum": {"en": 1.0}}
  assert result["score"] == pytest.approx((0.75 + 1.0) / 2)


def test_the_highest_score_wins_and_the_earliest_step_on_a_tie():
  assert selection.choose({10: {"score": 0.2}, 20: {"score": 0.5}, 30: {"score": 0.5}}) == 20
  assert selection.choose({10: {"score": math.nan}, 20: {"score": 0.1}}) == 20
  with pytest.raises(UserInputError, match="no checkpoint has a validation score"):
    selection.choose({10: {"score": math.nan}})


def test_unknown_rules_and_metrics_are_named():
  with pytest.raises(UserInputError, match="'best_ever' is not a selection rule.*final"):
    selection.check_rule("best_ever", None)
  with pytest.raises(UserInputError, match="no evaluation for metric 'bleu'"):
    selection.check_rule("max_validation_score", "bleu")
  selection.check_rule("final", None)
