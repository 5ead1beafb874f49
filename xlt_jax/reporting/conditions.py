"""P2's native advantage: ΔS = S_native - ½(S_translated,A + S_translated,B), per language
and test set, and Pearson's r(ΔS, S_native) over the languages of every P2 study.

A `ConditionDesign` study (study.json `"design": "ConditionDesign"`) names its runs
`native_<l>`, `translated_<engine>_<l>`, `rtt_<engine>_<l>` (monolingual, one language)
and `multi_native`, `multi_translated_<engine>` (8 languages). P2 scores a monolingual run
in its own language only; the multilingual runs in every language. So for test set T and
language l:

    mono:  S_native = native_<l> on T in l;  S_translated,e = translated_<e>_<l> on T in l
    multi: S_native = multi_native on T in l; S_translated,e = multi_translated_<e> on T in l

ΔS uses P2's two engines (Cohere and Google: `statistics.delta_s`); with one engine it is
S_native - S_translated (said in the table), with none there is no row. The round-trip
runs' scores stand beside (P2 Tables 1-2). Each ΔS has a bootstrap interval over the
items of the runs it compares, each run's items resampled on their own. P2 Fig. 4
correlates ΔS with S_native over "all individual languages' scores" (model x language
points): here over the monolingual rows of every P2 study in the report, per test set,
so a report over several models' studies gives P2's pooled points.
"""

import math

from xlt_jax.reporting import html, outputs, statistics
from xlt_jax.reporting.results import StudyResults

DESIGN = "ConditionDesign"


def _engines(names: set[str], prefix: str, suffix: str) -> list[str]:
  return sorted(name[len(prefix):len(name) - len(suffix)] for name in names
                if name.startswith(prefix) and name.endswith(suffix)
                and len(name) > len(prefix) + len(suffix))


def _rows(results: StudyResults, resamples: int, seed: int) -> list[dict]:
  runs = {run.name: run for run in results.runs}
  rows = []
  for key in results.task_metrics:
    task, metric = key
    for language in results.languages:
      for setting, native_name, prefix, suffix in [
          ("mono", f"native_{language}", "translated_", f"_{language}"),
          ("multi", "multi_native", "multi_translated_", "")]:
        native = runs.get(native_name)
        if native is None or math.isnan(native.scores.get(key, {}).get(language, math.nan)):
          continue
        translated = {engine: runs[f"{prefix}{engine}{suffix}"]
                      for engine in _engines(set(runs), prefix, suffix)
                      if not math.isnan(runs[f"{prefix}{engine}{suffix}"].scores.get(key, {})
                                        .get(language, math.nan))}
        if not translated:
          continue
        engines = sorted(translated)[:2]
        values = [translated[engine].scores[key][language] for engine in engines]
        s_native = native.scores[key][language]
        delta = (statistics.delta_s(s_native, *values) if len(values) == 2
                 else s_native - values[0])
        samples = [run.items.get(key, {}).get(language, [])
                   for run in [native, *(translated[engine] for engine in engines)]]
        interval = (statistics.bootstrap(samples, statistics.difference_of_means(1), resamples,
                                         seed) if all(samples) else None)
        rtt = {engine: runs[f"rtt_{engine}_{language}"].scores[key][language]
               for engine in _engines(set(runs), "rtt_", f"_{language}")
               if setting == "mono" and key in runs[f"rtt_{engine}_{language}"].scores}
        rows.append({"study": results.name, "setting": setting, "task": task, "metric": metric,
                     "language": language, "native": s_native,
                     "translated": dict(zip(engines, values)), "delta_s": delta,
                     "interval": interval, "rtt": rtt})
  return rows


def _interval_text(interval: statistics.Interval | None) -> str:
  return "n/a" if interval is None else f"[{interval.low:+.3f}, {interval.high:+.3f}]"


def sections(studies: list[StudyResults], out_dir: str, written: dict[str, str],
             resamples: int, seed: int) -> list:
  """The ΔS table of every ConditionDesign study here (one CSV, `p2_delta_s.csv`) and
  Pearson's r(ΔS, S_native) per test set; nothing when no study is one."""
  rows = [row for results in studies if results.study.get("design") == DESIGN
          for row in _rows(results, resamples, seed)]
  if not rows:
    return []
  engines = sorted({engine for row in rows for engine in row["translated"]})
  rtt_engines = sorted({engine for row in rows for engine in row["rtt"]})
  header = ["study", "setting", "task", "metric", "language", "native",
            *(f"translated_{engine}" for engine in engines),
            *(f"rtt_{engine}" for engine in rtt_engines), "delta_s", "delta_s_low",
            "delta_s_high", "engines_in_delta_s"]
  lines = [[row["study"], row["setting"], row["task"], row["metric"], row["language"],
            row["native"], *(row["translated"].get(engine, math.nan) for engine in engines),
            *(row["rtt"].get(engine, math.nan) for engine in rtt_engines), row["delta_s"],
            row["interval"].low if row["interval"] else math.nan,
            row["interval"].high if row["interval"] else math.nan,
            "+".join(row["translated"])] for row in rows]
  csv_name = outputs.write_csv(out_dir, "p2_delta_s", header, lines, written)
  shown = [[*(str(cell) for cell in line[:5]),
            *(outputs.format_value(cell, 3) for cell in line[5:len(header) - 3]),
            _interval_text(row["interval"]), line[-1]] for line, row in zip(lines, rows)]
  blocks = [
      html.Heading(2, "P2: native against translated training data"),
      html.Paragraph(
          "ΔS = S_native - ½(S_translated,A + S_translated,B) (P2 §4; with one translation"
          " engine, S_native - S_translated): a positive ΔS is native data's advantage."
          " mono: the run tuned on one language, scored in it; multi: the 8-language runs."
          f" Intervals: percentile bootstrap 95% over items, {resamples} resamples, seed"
          f" {seed} (n/a without eval/predictions.jsonl items)."),
      html.Table([*header[:len(header) - 3], "ΔS 95% interval", "engines"], shown, csv_name),
  ]
  bullets = []
  for task in dict.fromkeys(row["task"] for row in rows):
    points = [row for row in rows if row["task"] == task and row["setting"] == "mono"]
    correlation = statistics.pearson([row["delta_s"] for row in points],
                                     [row["native"] for row in points])
    bullets.append(
        f"{task}: Pearson r(ΔS, S_native) over {correlation.n} (study, language) points ="
        f" {outputs.format_value(correlation.value, 3)}, p ="
        f" {outputs.format_value(correlation.p, 3)}, 95% interval"
        f" [{outputs.format_value(correlation.low, 3)}, {outputs.format_value(correlation.high, 3)}]"
        + (" (needs 3 points, and 4 for the interval)" if correlation.n < 4 else ""))
  blocks += [html.Heading(3, "Correlation of ΔS with S_native (P2 Fig. 4)"),
             html.Bullets(bullets)]
  return blocks
