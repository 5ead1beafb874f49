"""Pure computations behind study reports: language x budget tables and derived rows.

A table is `(budgets, rows)`: `budgets` is the list of column values (samples per
non-English training language) and `rows` maps a language code, or `Avg.`, to one
score per column. This is the layout of the appendix tables of the Post-trainer's
Guide (P0, Tables 3-23), so the same functions run on our results and on the paper's.
"""

import csv
import math
from typing import NamedTuple

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError

AVERAGE_ROW = "Avg."

Rows = dict[str, list[float]]


class GapBridged(NamedTuple):
  """How far the best run closes the English / non-English gap over the English-only run."""

  baseline: float  # relative-to-English of the budget-0 run
  best: float  # highest relative-to-English over all runs
  best_budget: int  # the budget of the run reaching `best` (smallest on ties)
  points: float  # (best - baseline) * 100, in percentage points


def _mean(values: list[float]) -> float:
  # NaN (a missing score) propagates, so an average never silently drops a language.
  return math.fsum(values) / len(values) if values else math.nan


def _language_rows(rows: Rows) -> Rows:
  return {language: scores for language, scores in rows.items() if language != AVERAGE_ROW}


def read_paper_table(path: str) -> tuple[list[int], Rows]:
  """Reads a language x budget table written as TSV (the paper's files) or CSV (ours).

  Args:
    path: a file whose header is `language` then one integer budget per column, and
      whose other lines are a row name (language code or `Avg.`) then one score each.
      An empty cell reads as NaN.

  Returns:
    `(budgets, rows)` with rows in file order, the `Avg.` row included when present.

  Raises:
    UserInputError: the file is missing or a line is malformed (names file and line).
  """
  try:
    with paths.open(path, encoding="utf-8", newline="") as file:
      text = file.read()
  except OSError as error:
    raise UserInputError(f"cannot read table {path}: {error.strerror}") from None
  # The paper's tables are tab-separated; the report's table.csv is comma-separated.
  delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
  lines = [line for line in csv.reader(text.splitlines(), delimiter=delimiter) if line]
  if not lines or lines[0][0] != "language":
    raise UserInputError(f"{path}:1: expected a header starting with 'language'")
  try:
    budgets = [int(cell) for cell in lines[0][1:]]
  except ValueError:
    raise UserInputError(f"{path}:1: budgets must be integers, got {lines[0][1:]}") from None
  rows: Rows = {}
  for line_number, cells in enumerate(lines[1:], start=2):
    if len(cells) != len(budgets) + 1:
      raise UserInputError(
          f"{path}:{line_number}: expected {len(budgets) + 1} cells, got {len(cells)}")
    try:
      rows[cells[0]] = [float(cell) if cell.strip() else math.nan for cell in cells[1:]]
    except ValueError:
      raise UserInputError(f"{path}:{line_number}: a score is not a number: {cells}") from None
  return budgets, rows


def language_by_budget_table(
    scores: dict[int, dict[str, float]], languages: list[str]
) -> tuple[list[int], Rows]:
  """Lays out per-run scores like the paper's tables.

  Args:
    scores: budget -> language -> score, one entry per run with results.
    languages: the evaluation languages (English included), in any order.

  Returns:
    `(budgets, rows)`: budgets ascending; one row per language in alphabetical order,
    as the paper prints them, then the `Avg.` row (see `average_row`). A language a
    run did not report is NaN.
  """
  budgets = sorted(scores)
  rows: Rows = {language: [scores[budget].get(language, math.nan) for budget in budgets]
                for language in sorted(languages)}
  rows[AVERAGE_ROW] = average_row(rows)
  return budgets, rows


def average_row(rows: Rows) -> list[float]:
  """The paper's `Avg.` row: per column, the mean over every language row, English included.

  An `Avg.` entry already in `rows` is ignored. Checked against all 21 appendix tables.
  """
  language_rows = list(_language_rows(rows).values())
  return [_mean(list(column)) for column in zip(*language_rows)]


def seen_unseen_means(
    rows: Rows, seen: list[str], unseen: list[str]
) -> tuple[list[float], list[float]]:
  """Per column, the mean over the seen languages and over the unseen ones.

  Args:
    rows: a table's rows.
    seen: the non-English training languages (P0: es, fr, ja, zh; English excluded).
    unseen: evaluated languages never trained on (P0: ar, ko, pt).

  Returns:
    `(seen_means, unseen_means)`, one value per column each.
  """
  return ([_mean([rows[language][column] for language in seen]) for column in _columns(rows)],
          [_mean([rows[language][column] for language in unseen]) for column in _columns(rows)])


def _columns(rows: Rows) -> range:
  return range(len(next(iter(rows.values()))))


def non_english_means(rows: Rows, english: str = "en") -> list[float]:
  """Per column, the mean over every language row except English (and `Avg.`)."""
  others = [language for language in _language_rows(rows) if language != english]
  return [_mean([rows[language][column] for language in others]) for column in _columns(rows)]


def relative_to_english(rows: Rows, english: str = "en") -> list[float]:
  """Per column, mean(every non-English language) / English: P0's "relative to English".

  This is the definition that reproduces the paper's gap-bridged numbers best
  (papers.md P0.2). A column whose English score is 0 gives NaN, not an error, because
  an untrained tiny model can score 0.
  """
  return [_ratio(mean, english_score)
          for mean, english_score in zip(non_english_means(rows, english), rows[english])]


def balanced_relative_to_english(
    rows: Rows, seen: list[str], unseen: list[str], english: str = "en"
) -> list[float]:
  """Per column, ((seen mean + unseen mean) / 2) / English: the alternative reading of P0.

  papers.md keeps both readings because the paper does not define the quantity.
  """
  seen_means, unseen_means = seen_unseen_means(rows, seen, unseen)
  return [_ratio((seen_mean + unseen_mean) / 2, english_score) for seen_mean, unseen_mean,
          english_score in zip(seen_means, unseen_means, rows[english])]


def average_relative_to_english(rows: Rows, english: str = "en") -> list[float]:
  """Per column, the 8-language mean (English included, `average_row`) / English.

  The third reading of P0's "relative to English" (papers.md P0.2: the multi-task MR
  caption's "a little over 60%" fits it). The mean is recomputed from the language rows,
  so a printed `Avg.` row is ignored.
  """
  return [_ratio(average, english_score)
          for average, english_score in zip(average_row(rows), rows[english])]


def _ratio(numerator: float, denominator: float) -> float:
  return numerator / denominator if denominator else math.nan


def gap_bridged(budgets: list[int], relative: list[float]) -> GapBridged | None:
  """P0's "gap bridged": best relative-to-English over runs minus the English-only run's.

  Args:
    budgets: the column budgets.
    relative: relative-to-English per column (see `relative_to_english`).

  Returns:
    The gap bridged, or None when there is no budget-0 column or it (or every column)
    is NaN. NaN columns never count as the best run.
  """
  if 0 not in budgets or math.isnan(relative[budgets.index(0)]):
    return None
  baseline = relative[budgets.index(0)]
  best, best_budget = peak(budgets, relative)
  return GapBridged(baseline, best, best_budget, (best - baseline) * 100)


def peak(budgets: list[int], values: list[float]) -> tuple[float, int] | None:
  """The highest non-NaN value and its budget (the smallest budget on ties); None if all NaN."""
  candidates = [(value, budget) for budget, value in zip(budgets, values)
                if not math.isnan(value)]
  return max(candidates, key=lambda pair: (pair[0], -pair[1])) if candidates else None


def spearman(first: list[float], second: list[float]) -> tuple[float, float]:
  """Spearman's rank correlation and its two-sided p-value, by `scipy.stats.spearmanr`.

  P0's Table 2 correlates the seen and the unseen means. Over a table's columns (one point
  per run) that is 8 or 16 points. Ties get average ranks; values are rounded to 10
  decimals first, because means of printed scores that are equal in decimal can differ in
  the last bit of a float (P0 Table 11's seen means at 400 and 1000: 0.21, 0.27, 0.36,
  0.29 and 0.21, 0.27, 0.37, 0.28 give 0.2825 and 0.28250000000000003), and ranking would
  break those ties by that noise. NaN when either side is constant or holds a NaN, or
  with fewer than 3 points.
  """
  first, second = [round(value, 10) for value in first], [round(value, 10) for value in second]
  if any(math.isnan(value) for value in [*first, *second]) or len(first) < 3:
    return math.nan, math.nan
  if len(set(first)) == 1 or len(set(second)) == 1:
    return math.nan, math.nan  # scipy warns and returns NaN: the rank correlation is undefined
  from scipy import stats  # here, so the report binary's --help does not load scipy

  result = stats.spearmanr(first, second)
  return float(result.statistic), float(result.pvalue)


def format_score(value: float, decimals: int = 2) -> str:
  """`value` with `decimals` decimals (the paper prints 2), or `n/a` for NaN."""
  return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"


def markdown_table(header: list[str], lines: list[list[str]]) -> str:
  """A GitHub markdown table; the first column is left-aligned, the others right-aligned."""
  rule = [":---"] + ["---:"] * (len(header) - 1)
  return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, rule, *lines]) + "\n"
