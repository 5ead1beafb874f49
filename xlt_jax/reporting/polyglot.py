"""Score against the number of training languages (P1 §3.4, P3, P4 Fig. 2), and P3's
two-sided t-tests.

For P1's, P3's and P4's designs (study.json's `design`, each run with its
`training_languages`), every run is a point at n = its number of training languages:
English's score, the mean over the evaluated non-English languages it trains on
("trained"), and over those it does not ("zero-shot"); runs with the same n are averaged
(P1 averages its three addition orders so). P3's translated runs
(`multi<i>_translated`) are their own series beside the native ones.

P3 (Kew et al.) reads its bars as "increases significantly when moving from monolingual
to bilingual", a plateau at three languages, and "no significant differences" between
native and translated non-English data. For a `PolyglotDesign` study the report tests
exactly these with two-sided paired t-tests (`statistics.t_test(paired=True)`): each step
mono -> multi2 -> ... -> multi6 of the native series, and native against translated at each
size, over the non-English test items both runs scored (paired by item id: the same
prompts); without per-item results, over the languages' scores (stated in the table).
"""

import itertools
import math
import re

from xlt_jax.core import paths
from xlt_jax.reporting import figures, html, outputs, statistics
from xlt_jax.reporting.results import RunResult, StudyResults, TaskMetric

POLYGLOT = "PolyglotDesign"
# The designs whose runs vary the number of training languages (P1 §3.4, P3, P4 Fig. 2);
# P2's runs vary the data's origin instead, so its runs are not plotted by count.
BY_LANGUAGE_COUNT = ("PinchDesign", POLYGLOT, "ParallelDesign")
SIGNIFICANCE = 0.05


def _mean(values: list[float]) -> float:
  return math.fsum(values) / len(values) if values else math.nan


def language_count_series(results: StudyResults, key: TaskMetric) -> dict[str, dict[int, float]]:
  """Series name -> number of training languages -> mean score over the runs with that
  number (see the module docstring); empty when runs do not list their languages."""
  english = results.study["english"]
  points: dict[str, dict[int, list[float]]] = {}
  for run in results.runs:
    if not run.training_languages or key not in run.scores:
      continue
    trained = set(run.training_languages)
    scores = run.scores[key]
    variant = " (translated)" if run.name.endswith("_translated") else ""
    groups = {
        "English": [scores[english]] if not math.isnan(scores.get(english, math.nan)) else [],
        "trained": [scores[code] for code in scores
                    if code != english and code in trained and not math.isnan(scores[code])],
        "zero-shot": [scores[code] for code in scores
                      if code not in trained and code != english and not math.isnan(scores[code])]}
    for group, values in groups.items():
      if values:
        points.setdefault(group + variant, {}).setdefault(len(trained), []).append(_mean(values))
  return {name: {count: _mean(values) for count, values in sorted(by_count.items())}
          for name, by_count in points.items()}


def paired_values(first: RunResult, second: RunResult, key: TaskMetric,
                   languages: list[str]) -> tuple[list[float], list[float], str]:
  """The two runs' scores paired by item id over `languages`, or else by language."""
  xs, ys = [], []
  for language in languages:
    a = dict(zip(first.item_ids.get(key, {}).get(language, []),
                 first.items.get(key, {}).get(language, [])))
    b = dict(zip(second.item_ids.get(key, {}).get(language, []),
                 second.items.get(key, {}).get(language, [])))
    for item in a.keys() & b.keys():
      xs.append(a[item])
      ys.append(b[item])
  if xs:
    return xs, ys, "items"
  pairs = [(first.scores[key].get(code, math.nan), second.scores[key].get(code, math.nan))
           for code in languages]
  pairs = [(x, y) for x, y in pairs if not (math.isnan(x) or math.isnan(y))]
  return [x for x, _ in pairs], [y for _, y in pairs], "languages"


def _comparisons(runs: dict[str, RunResult]) -> list[tuple[str, str, str]]:
  """(what, first run, second run): each native step, then native against translated."""
  sizes = {name: int(found.group(1)) for name in runs
           if (found := re.fullmatch(r"multi(\d+)_native", name))}
  native = ["mono"] + sorted(sizes, key=sizes.get)
  found = [("one more language", a, b) for a, b in itertools.pairwise(native)]
  found += [("native against translated", name, name.replace("_native", "_translated"))
            for name in native[1:] if name.replace("_native", "_translated") in runs]
  return [entry for entry in found if entry[1] in runs and entry[2] in runs]


def t_test_lines(results: StudyResults, key: TaskMetric) -> list[list]:
  """Per comparison: what, the runs, unit, n, the mean difference (second - first), t,
  degrees of freedom, two-sided p and the verdict at SIGNIFICANCE."""
  runs = {run.name: run for run in results.runs if key in run.scores}
  others = [code for code in results.languages if code != results.study["english"]]
  lines = []
  for what, first, second in _comparisons(runs):
    xs, ys, unit = paired_values(runs[first], runs[second], key, others)
    test = statistics.t_test(ys, xs, paired=True)
    verdict = ("undefined" if math.isnan(test.p) else
               "significant" if test.p < SIGNIFICANCE else "not significant")
    lines.append([what, first, second, unit, len(xs), test.mean_difference, test.statistic,
                  test.degrees_of_freedom, test.p, verdict])
  return lines


def study_blocks(results: StudyResults, prefix: str, out_dir: str,
                 written: dict[str, str]) -> list:
  """The score-against-languages figure of a study whose runs list their training
  languages, and P3's t-tests for a PolyglotDesign; nothing otherwise."""
  panels, blocks = [], []
  for key in results.task_metrics:
    series = (language_count_series(results, key)
              if results.study.get("design") in BY_LANGUAGE_COUNT else {})
    if len({count for by_count in series.values() for count in by_count}) > 1:
      panels.append((f"{results.name}: {key[0]}", "number of training languages", key[1],
                     {name: (list(by_count), list(by_count.values()))
                      for name, by_count in series.items()}))
    if results.study.get("design") == POLYGLOT:
      lines = t_test_lines(results, key)
      if lines:
        header = ["comparison", "first", "second", "paired over", "n", "mean difference",
                  "t", "df", "p", f"at {SIGNIFICANCE}"]
        csv_name = outputs.write_csv(out_dir, f"{prefix}{outputs.slug(key[0])}_p3_t_tests",
                                     header, lines, written)
        blocks += [html.Heading(4, f"{key[0]}: two-sided paired t-tests (P3)"),
                   html.Paragraph("Mean difference: second run's score minus the first's, over"
                                  " the non-English test items both scored (paired by id), or"
                                  " over the languages' scores where items are missing;"
                                  " undefined with fewer than 2 pairs or no variance in their"
                                  " differences (every difference equal)."),
                   html.Table(header, [[*map(str, line[:5]),
                                        *(outputs.format_value(float(value), 3)
                                          for value in line[5:9]), line[9]] for line in lines],
                              csv_name)]
  if panels:
    name = f"{prefix}score_by_language_count"
    files = figures.plot_lines(panels, paths.join(out_dir, name),
                               "Score against the number of training languages")
    written[name] = files["png"]
    blocks = [html.Figure("Mean score against the number of training languages: English,"
                          " the evaluated languages each run trains on, and those it does not"
                          " (zero-shot); runs with as many languages averaged",
                          files["png"], files["svg"])] + blocks
  return ([html.Heading(3, "By number of training languages")] + blocks) if blocks else []
