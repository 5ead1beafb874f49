"""The statistics the five studies' conclusions rest on, each checked against scipy in tests.

- Spearman's rho with its p-value between seen and unseen means (P0 Table 2), over runs
  or over the checkpoints of one run: `spearman`.
- Pearson's r with a Fisher-z confidence interval (P1 Fig. 8, P2 Fig. 4): `pearson`.
- Wilson score intervals for accuracies (P4 Fig. 2, Table 2): `wilson_interval`.
- Seeded percentile bootstrap intervals over items for a mean or a difference, each group
  resampled on its own (the languages of a mean, the two runs of a difference), drawn
  exactly as `scipy.stats.bootstrap(..., method="percentile")` draws them: `bootstrap`.
- P2's native advantage, ΔS = S_native - ½(S_translated,A + S_translated,B): `delta_s`.
- P4's pooled regression: OLS on named feature columns with an intercept, fitted on a
  seeded 70% of the instances, out-of-sample R² on the other 30%, percentile bootstrap
  intervals of the coefficients: `pooled_regression`.
- Two-sided t-tests, independent (Student or Welch) and paired (P3's significance
  statements, P4 §4.3): `t_test`.

Everything here is a pure function of its arguments (seeds included); scipy is imported
inside the functions so that `python -m xlt_jax.report --help` does not load it.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

DEFAULT_RESAMPLES = 2000  # bootstrap resamples unless the caller states another number
DEFAULT_SEED = 0
CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Correlation:
  """A correlation coefficient, its two-sided p-value, the number of points and, for
  Pearson, the confidence interval at `confidence` (NaN when undefined)."""

  value: float
  p: float
  n: int
  low: float = math.nan
  high: float = math.nan
  confidence: float = CONFIDENCE


@dataclasses.dataclass(frozen=True)
class Interval:
  """A point estimate with its interval; `method` says how the interval was made."""

  estimate: float
  low: float
  high: float
  method: str

  def describe(self, decimals: int = 3) -> str:
    return (f"{self.estimate:.{decimals}f} [{self.low:.{decimals}f}, {self.high:.{decimals}f}]"
            if not math.isnan(self.estimate) else "n/a")


def _defined(first: Sequence[float], second: Sequence[float]) -> bool:
  values = [*first, *second]
  return (len(first) == len(second) and len(first) >= 3
          and not any(math.isnan(value) for value in values)
          and len(set(first)) > 1 and len(set(second)) > 1)


def _t_two_sided_p(t: float, degrees: float) -> float:
  from scipy import stats

  return float(2 * stats.t.sf(abs(t), degrees))


def spearman(first: Sequence[float], second: Sequence[float]) -> Correlation:
  """Spearman's rho (Pearson's r of average ranks) and the two-sided p-value of the t
  approximation with n - 2 degrees of freedom, as `scipy.stats.spearmanr` computes both.

  Values are rounded to 10 decimals before ranking, so means that are equal in decimal
  but differ in a float's last bit tie (see `tables.spearman`). NaN with fewer than 3
  points, a NaN value, or a constant side.
  """
  first = [round(float(value), 10) for value in first]
  second = [round(float(value), 10) for value in second]
  if not _defined(first, second):
    return Correlation(math.nan, math.nan, len(first))
  from scipy import stats

  rho = float(np.corrcoef(stats.rankdata(first), stats.rankdata(second))[0, 1])
  n = len(first)
  if abs(rho) >= 1:
    return Correlation(max(-1.0, min(1.0, rho)), 0.0, n)
  t = rho * math.sqrt((n - 2) / (1 - rho * rho))
  return Correlation(rho, _t_two_sided_p(t, n - 2), n)


def pearson(first: Sequence[float], second: Sequence[float],
            confidence: float = CONFIDENCE) -> Correlation:
  """Pearson's r, its two-sided p-value (exact under normality, as scipy's), and the
  Fisher-z interval tanh(atanh(r) ± z_{(1+confidence)/2} / sqrt(n - 3)) that
  `scipy.stats.pearsonr(...).confidence_interval()` gives. NaN where undefined; the
  interval needs at least 4 points."""
  x, y = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
  if not _defined(list(x), list(y)):
    return Correlation(math.nan, math.nan, len(x), confidence=confidence)
  r = float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))
  n = len(x)
  p = 0.0 if abs(r) == 1 else _t_two_sided_p(r * math.sqrt((n - 2) / (1 - r * r)), n - 2)
  low = high = math.nan
  if n > 3 and abs(r) < 1:
    spread = NormalDist().inv_cdf((1 + confidence) / 2) / math.sqrt(n - 3)
    low, high = math.tanh(math.atanh(r) - spread), math.tanh(math.atanh(r) + spread)
  return Correlation(r, p, n, low, high, confidence)


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> Interval:
  """The Wilson score interval of a proportion (no continuity correction), the interval of
  `scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`. NaN for 0 trials."""
  if trials <= 0:
    return Interval(math.nan, math.nan, math.nan, "wilson")
  z = NormalDist().inv_cdf((1 + confidence) / 2)
  share = successes / trials
  centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
  half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (
      1 + z * z / trials)
  return Interval(share, max(0.0, centre - half), min(1.0, centre + half),
                  f"Wilson {confidence:.0%}")


def bootstrap(groups: Sequence[Sequence[float]],
              statistic: Callable[..., np.ndarray],
              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
              confidence: float = CONFIDENCE) -> Interval:
  """A percentile bootstrap interval of `statistic(*groups)`, each group resampled with
  replacement on its own.

  Args:
    groups: one 1-D sample per group (e.g. the item scores of each language of a mean).
    statistic: takes one array per group, each shaped (..., items), and reduces the last
      axis (`axis=-1` semantics), like a vectorized `scipy.stats.bootstrap` statistic.
    resamples: the number of bootstrap resamples (the report states it).
    seed: seeds `numpy.random.default_rng`; the indices are drawn group after group,
      as scipy draws them, so the interval equals
      `scipy.stats.bootstrap(groups, statistic, n_resamples=resamples,
      rng=np.random.default_rng(seed), method="percentile", vectorized=True)`'s.

  Returns:
    The statistic on the data and the interval; NaN when a group is empty.
  """
  arrays = [np.asarray(group, dtype=float) for group in groups]
  if not arrays or any(array.size == 0 for array in arrays):
    return Interval(math.nan, math.nan, math.nan, "bootstrap (no items)")
  rng = np.random.default_rng(seed)
  resampled = [array[rng.integers(0, array.size, (resamples, array.size))] for array in arrays]
  distribution = np.asarray(statistic(*resampled), dtype=float)
  alpha = (1 - confidence) / 2
  low, high = np.quantile(distribution, [alpha, 1 - alpha])
  return Interval(float(statistic(*arrays)), float(low), float(high),
                  f"percentile bootstrap {confidence:.0%}, {resamples} resamples, seed {seed}")


def mean_of_group_means(*groups: np.ndarray) -> np.ndarray:
  """The mean over groups of each group's mean (last axis): a seen/unseen mean over
  languages, each language weighted equally as the papers' tables do."""
  return np.mean([np.mean(group, axis=-1) for group in groups], axis=0)


def difference_of_means(split: int) -> Callable[..., np.ndarray]:
  """A statistic: mean of group means of groups[:split] minus that of groups[split:]."""
  def statistic(*groups: np.ndarray) -> np.ndarray:
    return mean_of_group_means(*groups[:split]) - mean_of_group_means(*groups[split:])
  return statistic


def delta_s(native: float, translated_a: float, translated_b: float) -> float:
  """P2's native advantage: S_native - (S_translated,A + S_translated,B) / 2."""
  return native - (translated_a + translated_b) / 2


@dataclasses.dataclass(frozen=True)
class Regression:
  """A pooled OLS fit: coefficients (intercept first) with bootstrap intervals, and R²."""

  names: list[str]  # "intercept", then the feature columns in the caller's order
  coefficients: list[float]
  intervals: list[tuple[float, float]]
  r2_train: float
  r2_test: float  # out of sample, on the held-out instances
  n_train: int
  n_test: int
  method: str


def _r2(y: np.ndarray, predicted: np.ndarray) -> float:
  total = float(np.sum((y - y.mean()) ** 2))
  return 1 - float(np.sum((y - predicted) ** 2)) / total if total else math.nan


def _ols(design: np.ndarray, y: np.ndarray) -> np.ndarray:
  # QR rather than the normal equations: better conditioned for correlated features.
  q, r = np.linalg.qr(design)
  return np.linalg.solve(r, q.T @ y)


def pooled_regression(features: dict[str, Sequence[float]], target: Sequence[float],
                      train_share: float = 0.7, seed: int = DEFAULT_SEED,
                      resamples: int = DEFAULT_RESAMPLES,
                      confidence: float = CONFIDENCE) -> Regression:
  """P4 Table 3: OLS of `target` on the feature columns plus an intercept.

  The instances are shuffled by `numpy.random.default_rng(seed).permutation`; the first
  round(train_share * n) are fitted, the rest give the out-of-sample R² (1 - SSE / SST
  about the held-out mean). Coefficient intervals are percentile intervals over
  `resamples` refits on training rows drawn with replacement (same generator, after the
  split). Features are given as columns already transformed (e.g. log10 size,
  sqrt(L / L_max), 0/1 indicators), so the fit is exactly the one described.

  Raises:
    ValueError: columns of different lengths, or fewer training rows than coefficients.
  """
  names = ["intercept", *features]
  y = np.asarray(target, dtype=float)
  columns = [np.asarray(column, dtype=float) for column in features.values()]
  if any(column.shape != y.shape for column in columns):
    raise ValueError("every feature column needs one value per target value")
  design = np.column_stack([np.ones_like(y), *columns])
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(y))
  cut = round(train_share * len(y))
  train, test = order[:cut], order[cut:]
  if cut < design.shape[1]:
    raise ValueError(f"{cut} training instances cannot fit {design.shape[1]} coefficients")
  coefficients = _ols(design[train], y[train])
  draws = []
  for _ in range(resamples):
    rows = train[rng.integers(0, cut, cut)]
    fitted, *_ = np.linalg.lstsq(design[rows], y[rows], rcond=None)  # rank-safe on resamples
    draws.append(fitted)
  alpha = (1 - confidence) / 2
  low, high = np.quantile(np.asarray(draws), [alpha, 1 - alpha], axis=0)
  return Regression(
      names, [float(value) for value in coefficients],
      [(float(lo), float(hi)) for lo, hi in zip(low, high)],
      _r2(y[train], design[train] @ coefficients),
      _r2(y[test], design[test] @ coefficients) if len(test) > 1 else math.nan,
      len(train), len(test),
      f"OLS, seeded {train_share:.0%}/{1 - train_share:.0%} split (seed {seed}),"
      f" percentile bootstrap {confidence:.0%} over {resamples} resamples of the training rows")


@dataclasses.dataclass(frozen=True)
class TTest:
  statistic: float
  p: float  # two-sided
  degrees_of_freedom: float
  mean_difference: float  # mean(first) - mean(second) (paired: mean of the differences)
  kind: str


def t_test(first: Sequence[float], second: Sequence[float], paired: bool = False,
           equal_variances: bool = True) -> TTest:
  """A two-sided t-test of equal means: paired (`scipy.stats.ttest_rel`), Student's
  (`ttest_ind`) or, with `equal_variances=False`, Welch's (`ttest_ind(equal_var=False)`).
  NaN when a side has fewer than 2 values or there is no variance."""
  x, y = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
  nan = TTest(math.nan, math.nan, math.nan, math.nan, "undefined")
  if paired:
    if len(x) != len(y) or len(x) < 2:
      return nan
    differences = x - y
    error = differences.std(ddof=1) / math.sqrt(len(x))
    if not error:
      return nan
    t = float(differences.mean() / error)
    return TTest(t, _t_two_sided_p(t, len(x) - 1), len(x) - 1, float(differences.mean()),
                 "paired")
  if len(x) < 2 or len(y) < 2:
    return nan
  vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
  if equal_variances:
    degrees = len(x) + len(y) - 2
    pooled = ((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / degrees
    error, kind = math.sqrt(pooled * (1 / len(x) + 1 / len(y))), "Student"
  else:
    degrees = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    error, kind = math.sqrt(vx + vy), "Welch"
  if not error:
    return nan
  difference = float(x.mean() - y.mean())
  t = difference / error
  return TTest(t, _t_two_sided_p(t, degrees), float(degrees), difference, kind)


def spread(values: Sequence[float]) -> float:
  """Run-to-run spread: the sample standard deviation (ddof 1) over repeated runs; NaN
  with fewer than two values."""
  values = [value for value in values if not math.isnan(value)]
  return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
