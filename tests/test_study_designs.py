"""The P0-P4 designs expand into the runs the papers describe (no data read)."""

import itertools

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.studies.designs import MultiTaskDesign, plan_runs, split_evenly
from xlt_jax.studies.paper_designs import ConditionDesign, ParallelDesign, PinchDesign, PolyglotDesign


def _by_name(design):
  return {plan.name: plan for plan in plan_runs(design)}


def _positions(plan):
  """(pool, position) of every pooled training item of a run."""
  return [(portion.pool, position) for portion in plan.portions
          for position in range(portion.offset, portion.offset + portion.count)]


def test_split_evenly_is_deterministic_and_differs_by_at_most_one():
  assert split_evenly(10, ("a", "b", "c")) == {"a": 4, "b": 3, "c": 3}
  assert sum(split_evenly(4390, tuple("abcdefghijkl")).values()) == 4390


def test_p0_multi_task_totals_match_the_paper():
  design = MultiTaskDesign(name="m", datasets=("sharegpt", "xlsum", "mcot_math"),
                           seen_languages=("es", "fr", "ja", "zh"), unseen_languages=("ar",),
                           budgets=(0, 1500, 5000, 7000), english_size=5000)
  plans = _by_name(design)
  assert plans["budget00000"].total == 15_000
  assert plans["budget05000"].total == 75_000 and plans["budget07000"].total == 99_000
  # "11k total mCoT-math samples in the multi-task setting (= 5k + 4 x 1.5k)"
  assert sum(plans["budget01500"].counts["mcot_math"].values()) == 11_000


def test_p1_pinch_runs_keep_the_total_and_never_reuse_an_item():
  design = PinchDesign(name="p1", dataset="lima_oasst")
  plans = _by_name(design)
  assert len(plans) == 58  # papers.md P1.1: about 58 tuned models
  for plan in plans.values():
    assert plan.total == design.total, plan.name
    positions = _positions(plan)
    assert len(set(positions)) == len(positions), plan.name  # each example in one language
  everything = plans["pinch12_p100"].train_counts
  assert set(everything) == set(design.languages)
  assert set(everything.values()) == {365, 366} and everything["en"] == 365  # extras: non-English
  one_percent = plans["pinch12_p001"].train_counts
  assert sum(one_percent.values()) - one_percent["en"] == 41  # P1 says "only 40"
  assert set(plans["pinch6_p050"].train_counts) == set(design.six_languages)
  # English is the same nested sample across percentages: it always starts at position 0.
  assert all(plan.portions[0].language == "en" and plan.portions[0].offset == 0
             for name, plan in plans.items() if name.startswith("pinch"))
  added = [name for name in plans if name.startswith("languages_")]
  assert len(added) == 13 and "languages_en_fi_ru" in added  # 3 orders x 4 sizes + all six
  assert plans["bilingual_en_es"].train_counts == {"en": 2195, "es": 2195}


def test_p3_substitution_translates_exactly_the_removed_english_examples():
  plans = _by_name(PolyglotDesign(name="p3", dataset="guanaco"))
  assert list(plans) == ["mono"] + [f"multi{i}_{kind}" for i in range(2, 7)
                                    for kind in ("native", "translated")]
  mono = set(_positions(plans["mono"]))
  for i in range(2, 7):
    native, translated = plans[f"multi{i}_native"], plans[f"multi{i}_translated"]
    assert native.total == translated.total == 3200
    assert native.train_counts["en"] == 3200 - 200 * (i - 1)
    assert set(_positions(translated)) == mono  # same instructions as Mono, other languages
    assert {p.dataset for p in translated.portions[1:]} == {"guanaco_translated"}
    assert all(p.pool is None for p in native.portions[1:])  # native examples are their own
  # Each language keeps its block as more languages are added (nested substitution).
  assert plans["multi2_translated"].portions[1] == plans["multi6_translated"].portions[1]


def test_p2_conditions_and_disjoint_translated_multilingual_sample():
  plans = _by_name(ConditionDesign(name="p2", dataset="aya_dataset"))
  assert len(plans) == 16
  assert plans["native_ru"].counts == {"aya_dataset": {"ru": 423}}
  assert plans["translated_cohere_ru"].counts == {"aya_dataset_translated_cohere": {"ru": 423}}
  assert plans["rtt_google_zh"].counts == {"aya_dataset_rtt_google": {"zh": 3944}}
  assert "rtt_google_es" not in plans
  multi = plans["multi_translated_google"]
  assert multi.total == 1928 and len(set(_positions(multi))) == 1928  # 241 x 8, all different
  # Both engines translate the same English items for each language.
  assert [(p.language, p.pool, p.offset) for p in multi.portions] == [
      (p.language, p.pool, p.offset) for p in plans["multi_translated_cohere"].portions]


def test_p4_has_22_mixtures_per_task_matching_table_2_counts():
  design = ParallelDesign(name="p4_math", dataset="mcot_math_trigger", count=10_000,
                          validation_size=200)
  plans = plan_runs(design)
  assert len(plans) == 22
  sizes = [len(plan.portions) for plan in plans]
  assert {size: sizes.count(size) for size in sizes} == {1: 1, 2: 4, 4: 5, 5: 1, 6: 5, 9: 5, 10: 1}
  for plan in plans:  # parallel copies: every language trains on the same items
    assert {(p.offset, p.count, p.pool) for p in plan.portions} == {(0, 10_000, "p4_math")}
  bilingual = [set(plan.train_counts) for plan in plans if len(plan.portions) == 2]
  evaluation = ("en", "es", "ja", "bn", "sw", "te")
  # Table 2: n = 40 (4 bilingual mixtures x 2 tasks x 5 models) for EN and for direct
  # exposure; n = 160 for transfer (4 mixtures x 4 absent evaluation languages x 2 x 5).
  assert len(bilingual) * 2 * 5 == 40
  transfer = sum(1 for languages, target in itertools.product(bilingual, evaluation)
                 if target != "en" and target not in languages)
  assert transfer * 2 * 5 == 160
  # Every core language is left out exactly once at 4, 6 and 9 languages (P4 §4.3).
  for size in (4, 6, 9):
    left_out = [set(design.core) - set(plan.train_counts) for plan in plans
                if len(plan.portions) == size]
    assert sorted(min(s) for s in left_out) == sorted(design.core)


@pytest.mark.parametrize("make, message", [
    (lambda: PinchDesign(name="x", dataset="d", six_languages=("en", "xx")), "not among"),
    (lambda: PolyglotDesign(name="x", dataset="d", per_language=700), "exceed the total"),
    (lambda: MultiTaskDesign(name="x", datasets=("a", "a"), seen_languages=("es",),
                             unseen_languages=(), budgets=(0,), english_size=1), "distinct"),
])
def test_bad_designs_are_named(make, message):
  with pytest.raises(UserInputError, match=message):
    make()
