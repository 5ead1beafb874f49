"""One task and metric of one study, analysed: the paper-layout table and its statistics.

`analyse` lays the runs out as P0's language x budget table (runs repeated with other
seeds are averaged per cell), derives what `paper_tables.summarize` derives for the
paper's own tables (seen/unseen means and gap, relative to English in three readings, gap
bridged, peak non-English mean, Spearman over runs), adds the script and study language
groups, Pearson's r over runs, Spearman over each run's evaluated checkpoints,
uncertainty (bootstrap over items, or Wilson for accuracies when the items are missing)
and the run-to-run noise floor where budgets were repeated with other seeds.
"""

import dataclasses
import math

import numpy as np

from xlt_jax.reporting import groups as language_groups
from xlt_jax.reporting import paper_tables, statistics, tables
from xlt_jax.reporting.results import RunResult, StudyResults, TaskMetric, column_label

# Corpus-level metrics where lower is better (xlt_jax/evaluation/perplexity.py): a
# language's value is exp(total NLL / total tokens), not the mean of its items' values, so
# the item bootstrap does not apply, and "peak" and "gap bridged" (highest is best) do not
# either. Their tables are reported without those statistics.
LOWER_IS_BETTER = frozenset({"perplexity", "word_perplexity", "byte_perplexity",
                             "bits_per_byte"})

# The per-budget means the report gives intervals and a noise floor for.
QUANTITIES = ("seen_mean", "unseen_mean", "seen_unseen_gap", "non_english_mean",
              "relative_to_english", "latin_gap")


@dataclasses.dataclass(frozen=True)
class Effect:
  """A stated effect, its interval, and the run-to-run spread it is compared with."""

  label: str
  value: float
  interval: statistics.Interval | None  # None: no item scores to resample
  noise: float  # run-to-run spread of the quantity (NaN: no repeated seeds)

  @property
  def within_noise(self) -> bool:
    return not math.isnan(self.noise) and abs(self.value) < self.noise


@dataclasses.dataclass(frozen=True)
class TaskAnalysis:
  study: str
  task: str
  metric: str
  budgets: list[int | str]  # the columns: budgets ascending, or mixture names
  rows: tables.Rows  # language rows (alphabetical) then `Avg.`
  summary: dict  # paper_tables.summarize's dict
  group_means: dict[str, list[float]]
  groups: dict[str, list[str]]
  pearson: statistics.Correlation  # seen vs unseen means over the budgets
  checkpoint_spearman: dict[str, statistics.Correlation]  # run -> over its checkpoints
  cell_intervals: dict[str, list[statistics.Interval | None]]  # language -> per budget
  intervals: dict[str, list[statistics.Interval | None]]  # seen/unseen/gap/non-English/groups
  noise: dict[str, float]  # quantity -> largest run-to-run spread over repeated budgets
  runs_by_budget: dict[int, list[RunResult]]  # the runs each column averages
  effects: list[Effect]
  resamples: int
  seed: int


def _runs_by_budget(results: StudyResults, key: TaskMetric) -> dict[int | str, list[RunResult]]:
  found: dict[int, list[RunResult]] = {}
  for run in results.runs:
    if key in run.scores:
      found.setdefault(run.column, []).append(run)
  return dict(sorted(found.items()))


def _mean_over(values: list[float]) -> float:
  return math.fsum(values) / len(values) if values else math.nan


def _run_quantities(scores: dict[str, float], study: dict,
                    script: dict[str, list[str]]) -> dict[str, float]:
  """QUANTITIES for one run's language -> score (`latin_gap`: Latin minus non-Latin mean,
  NaN unless `script` has both groups)."""
  english, seen, unseen = study["english"], study["seen_languages"], study["unseen_languages"]
  others = [code for code in scores if code != english]
  seen_mean = _mean_over([scores[code] for code in seen])
  unseen_mean = _mean_over([scores[code] for code in unseen])
  non_english = _mean_over([scores[code] for code in others])
  return {"seen_mean": seen_mean, "unseen_mean": unseen_mean,
          "seen_unseen_gap": seen_mean - unseen_mean, "non_english_mean": non_english,
          "relative_to_english": non_english / scores[english] if scores[english] else math.nan,
          "latin_gap": (_mean_over([scores[code] for code in script[language_groups.LATIN]])
                        - _mean_over([scores[code] for code in script[language_groups.NON_LATIN]])
                        if len(script) == 2 else math.nan)}


def _pooled_items(runs: list[RunResult], key: TaskMetric, language: str) -> list[float]:
  # Items of every seed's run together: with equal item sets their mean is the cell's mean.
  if key[1] in LOWER_IS_BETTER:  # the cell is not the items' mean: nothing to resample
    return []
  return [value for run in runs for value in run.items.get(key, {}).get(language, [])]


def _cell_interval(runs: list[RunResult], key: TaskMetric, language: str, score: float,
                   resamples: int, seed: int) -> statistics.Interval | None:
  items = _pooled_items(runs, key, language)
  if items:
    return statistics.bootstrap([items], statistics.mean_of_group_means, resamples, seed)
  counts = [run.counts.get(key, {}).get(language) for run in runs]
  if key[1] == "accuracy" and all(counts) and not math.isnan(score):
    correct = sum(round(run.scores[key][language] * count) for run, count in zip(runs, counts))
    return statistics.wilson_interval(correct, sum(counts))
  return None


def _group_interval(runs: list[RunResult], key: TaskMetric, first: list[str],
                    second: list[str] | None, resamples: int,
                    seed: int) -> statistics.Interval | None:
  """Bootstrap over items of mean(first) (or mean(first) - mean(second)); None without items."""
  samples = [_pooled_items(runs, key, code) for code in [*first, *(second or [])]]
  if not all(samples):
    return None
  statistic = (statistics.mean_of_group_means if second is None
               else statistics.difference_of_means(len(first)))
  return statistics.bootstrap(samples, statistic, resamples, seed)


def _budget_effect(by_budget: dict[int, list[RunResult]], key: TaskMetric, languages: list[str],
                   budget: int | None, resamples: int, seed: int) -> statistics.Interval | None:
  """Bootstrap, over items, of the mean of `languages` at `budget` minus at budget 0."""
  if budget is None or 0 not in by_budget or budget == 0:
    return None
  samples = ([_pooled_items(by_budget[budget], key, code) for code in languages]
             + [_pooled_items(by_budget[0], key, code) for code in languages])
  if not all(samples):
    return None
  return statistics.bootstrap(samples, statistics.difference_of_means(len(languages)),
                              resamples, seed)


def _gap_bridged_interval(by_budget: dict[int, list[RunResult]], key: TaskMetric, english: str,
                          others: list[str], best_budget: int, resamples: int,
                          seed: int) -> statistics.Interval | None:
  """Bootstrap over items of 100 * (relative to English at `best_budget` - at budget 0),
  the English and non-English items of both runs resampled on their own."""
  if best_budget == 0:
    return None
  codes = [english, *others]
  samples = ([_pooled_items(by_budget[best_budget], key, code) for code in codes]
             + [_pooled_items(by_budget[0], key, code) for code in codes])
  if not all(samples):
    return None
  width = len(codes)

  def points(*groups):
    best, start = groups[:width], groups[width:]
    with np.errstate(divide="ignore", invalid="ignore"):  # an English resample scoring 0
      relative = [statistics.mean_of_group_means(*run[1:])
                  / statistics.mean_of_group_means(run[0]) for run in (best, start)]
    return 100 * (relative[0] - relative[1])

  return statistics.bootstrap(samples, points, resamples, seed)


def is_budget_sweep(columns: list[int | str]) -> bool:
  """Whether the columns are budgets (ints), not mixture names."""
  return all(isinstance(column, int) for column in columns)


def _summarize(columns: list[int | str], rows: tables.Rows, seen: list[str], unseen: list[str],
               english: str) -> dict:
  """`paper_tables.summarize`; mixture columns go in as positions 1..n (no English-only
  budget, so no gap bridged) and come back as their names."""
  if is_budget_sweep(columns):
    return paper_tables.summarize(columns, rows, seen, unseen, english)
  positions = list(range(1, len(columns) + 1))
  summary = paper_tables.summarize(positions, rows, seen, unseen, english)
  name = dict(zip(positions, columns))
  return {**summary, "budgets": columns, "peak_budget": name.get(summary["peak_budget"]),
          "runs_unseen_above_seen": [name[p] for p in summary["runs_unseen_above_seen"]]}


def analyse(results: StudyResults, key: TaskMetric,
            resamples: int = statistics.DEFAULT_RESAMPLES,
            seed: int = statistics.DEFAULT_SEED) -> TaskAnalysis:
  """The table and statistics of (task, metric) `key` over the runs that report it."""
  study = results.study
  english, seen, unseen = study["english"], study["seen_languages"], study["unseen_languages"]
  by_budget = _runs_by_budget(results, key)
  scores = {budget: {code: _mean_over([run.scores[key][code] for run in runs])
                     for code in results.languages} for budget, runs in by_budget.items()}
  budgets, rows = tables.language_by_budget_table(scores, results.languages)
  language_rows = {code: values for code, values in rows.items() if code != tables.AVERAGE_ROW}
  summary = _summarize(budgets, language_rows, seen, unseen, english)
  groups = language_groups.study_groups(study, f"{results.results_dir}/study.json")
  others = [code for code in results.languages if code != english]

  cell_intervals = {code: [_cell_interval(by_budget[budget], key, code, rows[code][column],
                                          resamples, seed)
                           for column, budget in enumerate(budgets)]
                    for code in sorted(results.languages)}
  plans = {"seen_mean": (seen, None), "unseen_mean": (unseen, None),
           "seen_unseen_gap": (seen, unseen), "non_english_mean": (others, None),
           **{f"{name} mean": (members, None) for name, members in groups.items()}}
  intervals = {name: [_group_interval(by_budget[budget], key, first, second, resamples, seed)
                      for budget in budgets] for name, (first, second) in plans.items()}

  script = language_groups.script_groups(results.languages, english)
  per_run = {budget: [_run_quantities(run.scores[key], study, script) for run in runs]
             for budget, runs in by_budget.items()}
  noise = {}
  for quantity in QUANTITIES:
    spreads = [statistics.spread([values[quantity] for values in runs])
               for runs in per_run.values() if len(runs) > 1]
    noise[quantity] = max(spreads) if spreads else math.nan

  checkpoint_spearman = {}
  for run in results.runs:
    points = [_run_quantities(steps[key], study, script) for steps in run.checkpoints.values()
              if key in steps]
    if points:
      checkpoint_spearman[run.name] = statistics.spearman(
          [point["seen_mean"] for point in points], [point["unseen_mean"] for point in points])

  effects = [Effect(f"seen - unseen gap at {column_label(budget)}", summary["seen_unseen_gap"][column],
                    intervals["seen_unseen_gap"][column], noise["seen_unseen_gap"])
             for column, budget in enumerate(budgets)]
  if len(script) == 2:
    latin, non_latin = script[language_groups.LATIN], script[language_groups.NON_LATIN]
    effects += [Effect(
        f"Latin - non-Latin mean at {column_label(budget)}",
        _mean_over([rows[code][column] for code in latin])
        - _mean_over([rows[code][column] for code in non_latin]),
        _group_interval(by_budget[budget], key, latin, non_latin, resamples, seed),
        noise["latin_gap"]) for column, budget in enumerate(budgets)]
  peak_budget = summary["peak_budget"]
  if key[1] not in LOWER_IS_BETTER and 0 in budgets and peak_budget not in (None, 0):
    effects.append(Effect(
        f"non-English mean, budget {peak_budget} (peak) - budget 0",
        summary["non_english_mean"][budgets.index(peak_budget)]
        - summary["non_english_mean"][budgets.index(0)],
        _budget_effect(by_budget, key, others, peak_budget, resamples, seed),
        noise["non_english_mean"]))
  largest = max(budgets) if budgets and is_budget_sweep(budgets) else 0
  if key[1] not in LOWER_IS_BETTER and 0 in budgets and largest > 0:
    # Do the seen languages, and the unseen ones that no run trains on, gain from the
    # budget (P0: unseen performance tracks seen)?
    for name, members in (("seen", seen), ("unseen", unseen)):
      if members:
        values = summary[f"{name}_mean"]
        effects.append(Effect(
            f"{name} mean, budget {largest} (largest) - budget 0",
            values[budgets.index(largest)] - values[budgets.index(0)],
            _budget_effect(by_budget, key, list(members), largest, resamples, seed),
            noise[f"{name}_mean"]))
  gap = summary["gap_bridged"]["relative_to_english"]
  if gap is not None and key[1] not in LOWER_IS_BETTER:
    effects.append(Effect("gap bridged (points of relative to English)", gap["points"],
                          _gap_bridged_interval(by_budget, key, english, others,
                                                gap["best_budget"], resamples, seed),
                          noise["relative_to_english"] * 100))
  return TaskAnalysis(
      results.name, key[0], key[1], budgets, rows, summary,
      language_groups.group_means(language_rows, groups), groups,
      statistics.pearson(summary["seen_mean"], summary["unseen_mean"]), checkpoint_spearman,
      cell_intervals, intervals, noise, by_budget,
      effects, resamples, seed)
