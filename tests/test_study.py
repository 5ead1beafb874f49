"""Study designs: run plans, deterministic nested subsets, budget errors."""

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.studies.designs import StudyDesign, nested_subset, plan_runs

IDS = [f"demo_arith_es_train:{line}" for line in range(1, 501)]


def _design(**overrides):
  values = dict(name="s", dataset="demo_arith", seen_languages=("es", "fr"),
                unseen_languages=("ar",), budgets=(0, 50, 200), english_size=100)
  values.update(overrides)
  return StudyDesign(**values)


def test_same_seed_same_ids_and_smaller_budgets_nest():
  small = nested_subset(IDS, 50, seed=0, task="demo_arith_es_train", language="es")
  assert small == nested_subset(IDS, 50, seed=0, task="demo_arith_es_train", language="es")
  large = nested_subset(IDS, 200, seed=0, task="demo_arith_es_train", language="es")
  assert large[:50] == small
  assert len(set(large)) == 200
  assert small != IDS[:50]  # a permutation, not the file order


def test_different_seeds_and_tasks_draw_different_subsets():
  base = nested_subset(IDS, 50, seed=0, task="demo_arith_es_train", language="es")
  assert nested_subset(IDS, 50, seed=1, task="demo_arith_es_train", language="es") != base
  assert nested_subset(IDS, 50, seed=0, task="demo_arith_fr_train", language="fr") != base


def test_budget_larger_than_the_data_names_task_language_budget_and_count():
  with pytest.raises(UserInputError, match=r"budget 600 for task demo_arith_es_train \(language es\)"
                                           r" exceeds the 500 available examples"):
    nested_subset(IDS, 600, seed=0, task="demo_arith_es_train", language="es")


def test_plan_runs_keeps_english_fixed_and_adds_each_seen_language():
  plans = plan_runs(_design(budgets=(200, 0, 50)))
  assert [plan.budget for plan in plans] == [0, 50, 200]
  assert plans[0].train_counts == {"en": 100}
  assert plans[2].train_counts == {"en": 100, "es": 200, "fr": 200}
  assert plans[1].mixture == "s_budget00050"
  assert plans[1].validation_mixture == "s_budget00050_validation"


@pytest.mark.parametrize("overrides, message", [
    ({"budgets": ()}, "empty budget schedule"),
    ({"budgets": (0, 0)}, "distinct"),
    ({"unseen_languages": ("es",)}, "listed twice"),
])
def test_bad_designs(overrides, message):
  with pytest.raises(UserInputError, match=message):
    _design(**overrides)
