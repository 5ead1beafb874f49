"""xlt_jax.reporting.statistics against scipy and numpy, the reference implementations."""

import math

import numpy as np
import pytest
from scipy import stats

from xlt_jax.reporting import statistics

SEEN = [0.21, 0.27, 0.36, 0.29, 0.40, 0.38, 0.45, 0.44]
UNSEEN = [0.18, 0.20, 0.31, 0.22, 0.30, 0.33, 0.35, 0.31]


def test_spearman_equals_scipy_and_the_rank_formula():
  result = statistics.spearman(SEEN, UNSEEN)
  reference = stats.spearmanr(SEEN, UNSEEN)
  assert result.value == pytest.approx(reference.statistic, abs=1e-12)
  assert result.p == pytest.approx(reference.pvalue, rel=1e-9)
  # UNSEEN ties (0.31 twice), so the textbook formula is checked on a tie-free pair.
  first, second = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]  # d = -1 1 -1 1 0 -> sum d^2 = 4
  assert statistics.spearman(first, second).value == pytest.approx(1 - 6 * 4 / (5 * 24))
  assert result.n == 8


def test_spearman_is_nan_when_undefined():
  assert math.isnan(statistics.spearman([1, 2], [2, 3]).value)  # fewer than 3 points
  assert math.isnan(statistics.spearman([1, 1, 1], [1, 2, 3]).p)  # constant side
  assert math.isnan(statistics.spearman([1, math.nan, 2], [1, 2, 3]).value)


def test_pearson_r_p_and_confidence_interval_equal_scipy():
  result = statistics.pearson(SEEN, UNSEEN, confidence=0.9)
  reference = stats.pearsonr(SEEN, UNSEEN)
  interval = reference.confidence_interval(confidence_level=0.9)
  assert result.value == pytest.approx(reference.statistic, abs=1e-12)
  assert result.p == pytest.approx(reference.pvalue, rel=1e-7)
  assert (result.low, result.high) == pytest.approx((interval.low, interval.high), abs=1e-12)


@pytest.mark.parametrize("successes, trials", [(30, 40), (35, 40), (119, 160), (0, 12), (12, 12)])
def test_wilson_interval_equals_binomtest(successes, trials):
  # P4 Table 2's win rates (30/40, 35/40, 119/160) and both edges.
  result = statistics.wilson_interval(successes, trials)
  reference = stats.binomtest(successes, trials).proportion_ci(method="wilson")
  assert result.estimate == successes / trials
  assert (result.low, result.high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_bootstrap_of_a_mean_equals_scipy_percentile_on_the_same_seed():
  items = np.random.default_rng(5).integers(0, 2, 60).astype(float)
  result = statistics.bootstrap([items], statistics.mean_of_group_means, resamples=999, seed=3)
  reference = stats.bootstrap((items,), np.mean, n_resamples=999, method="percentile",
                              rng=np.random.default_rng(3), vectorized=True)
  assert result.estimate == pytest.approx(items.mean())
  assert (result.low, result.high) == (reference.confidence_interval.low,
                                       reference.confidence_interval.high)
  assert "999 resamples, seed 3" in result.method


def test_bootstrap_of_a_difference_of_language_means_equals_scipy():
  rng = np.random.default_rng(1)
  seen = [rng.random(20), rng.random(25)]  # two languages of one run
  unseen = [rng.random(30)]
  statistic = statistics.difference_of_means(2)
  result = statistics.bootstrap([*seen, *unseen], statistic, resamples=500, seed=11)

  def reference_statistic(a, b, c, axis=-1):
    return (np.mean(a, axis=axis) + np.mean(b, axis=axis)) / 2 - np.mean(c, axis=axis)

  reference = stats.bootstrap((*seen, *unseen), reference_statistic, n_resamples=500,
                              method="percentile", rng=np.random.default_rng(11))
  assert result.estimate == pytest.approx((seen[0].mean() + seen[1].mean()) / 2
                                          - unseen[0].mean())
  assert result.low == pytest.approx(reference.confidence_interval.low, abs=1e-12)
  assert result.high == pytest.approx(reference.confidence_interval.high, abs=1e-12)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
  rng = np.random.default_rng(0)
  covered = 0
  for trial in range(200):
    sample = rng.binomial(1, 0.3, 80).astype(float)
    interval = statistics.bootstrap([sample], statistics.mean_of_group_means, resamples=400,
                                    seed=trial)
    covered += interval.low <= 0.3 <= interval.high
  assert 0.88 <= covered / 200 <= 0.99  # percentile intervals under-cover slightly at n=80


def test_delta_s_is_native_minus_the_mean_of_the_two_translations():
  # P2: S_native 0.62, Cohere-translated 0.55, Google-translated 0.51 -> 0.62 - 0.53
  assert statistics.delta_s(0.62, 0.55, 0.51) == pytest.approx(0.09)


def test_pooled_regression_coefficients_equal_lstsq_on_the_seeded_split():
  rng = np.random.default_rng(7)
  n = 60
  log_size = rng.choice([np.log10(4e9), np.log10(8e9), np.log10(14e9)], n)
  coverage = np.sqrt(rng.integers(1, 11, n) / 10)
  in_training = rng.integers(0, 2, n).astype(float)
  y = 0.1 + 0.2 * log_size + 0.3 * coverage + 0.15 * in_training + rng.normal(0, 0.02, n)
  features = {"log10_size": log_size, "coverage": coverage, "eval_language_in_training":
              in_training}
  result = statistics.pooled_regression(features, y, seed=4, resamples=300)

  order = np.random.default_rng(4).permutation(n)
  train, test = order[:42], order[42:]  # round(0.7 * 60) = 42
  design = np.column_stack([np.ones(n), log_size, coverage, in_training])
  expected, *_ = np.linalg.lstsq(design[train], y[train], rcond=None)
  assert result.names == ["intercept", "log10_size", "coverage", "eval_language_in_training"]
  assert result.coefficients == pytest.approx(list(expected), abs=1e-9)
  residual = y[test] - design[test] @ expected
  r2 = 1 - np.sum(residual ** 2) / np.sum((y[test] - y[test].mean()) ** 2)
  assert result.r2_test == pytest.approx(r2) and result.r2_test > 0.9
  assert (result.n_train, result.n_test) == (42, 18)
  for (low, high), coefficient, true in zip(result.intervals, result.coefficients,
                                            [0.1, 0.2, 0.3, 0.15]):
    assert low <= coefficient <= high
  assert result.intervals[3][0] <= 0.15 <= result.intervals[3][1]


def test_pooled_regression_refuses_too_few_rows():
  with pytest.raises(ValueError, match="cannot fit"):
    statistics.pooled_regression({"a": [1, 2]}, [1, 2])  # 1 training row, 2 coefficients


@pytest.mark.parametrize("paired, equal", [(False, True), (False, False), (True, True)])
def test_t_test_equals_scipy(paired, equal):
  rng = np.random.default_rng(2)
  first, second = rng.normal(0.5, 0.1, 12), rng.normal(0.45, 0.2, 12)
  result = statistics.t_test(first, second, paired=paired, equal_variances=equal)
  reference = (stats.ttest_rel(first, second) if paired
               else stats.ttest_ind(first, second, equal_var=equal))
  assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
  assert result.p == pytest.approx(reference.pvalue, rel=1e-8)
  assert result.degrees_of_freedom == pytest.approx(reference.df)


def test_spread_is_the_sample_standard_deviation():
  assert statistics.spread([0.30, 0.34, 0.32]) == pytest.approx(0.02)
  assert math.isnan(statistics.spread([0.3]))
