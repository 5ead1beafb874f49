"""Writes the report of one or more studies: tables, statistics, figures, markdown and HTML.

    python -m xlt_jax.report --results_dir=MODEL_DIR [--results_dir=OTHER ...] [--out_dir=DIR]

For every study (a results directory, `results.collect_results`) and every task and
metric its runs report (`analysis.analyse`), the report holds P0's language x budget
table with the `Avg.` row, the derived rows (seen / unseen means and gap, the three
readings of relative to English, Latin / non-Latin and the study's own groups), the
intervals (bootstrap over items, or Wilson), correlations, the effects it states beside
the run-to-run noise floor, and figures. Files, in `out_dir`:

    report.md, report.html           the same content; the HTML embeds its figures (SVG)
    [PREFIX]table.csv                language x budget with Avg., one per task and metric
    [PREFIX]summary.csv              the derived rows per budget
    [PREFIX]intervals.csv            every interval the report states, with its method
    overview.csv                     one line per study x task x metric
    [STUDY_]runs.csv                 each planned run, its checkpoint step and status
    scores_by_budget.{png,svg}       one panel per study x task
    relative_to_english.{png,svg}

A budget sweep whose runs have the base model's scores gets a section against it
(`base_model`). Per design (study.json's `design`), sections from `pairwise` (P1 win rates and S×S
heatmaps), `polyglot` (P3 t-tests; score by number of training languages), `parallel`
(P4, per study and pooled over studies) and `conditions` (P2's ΔS, pooled over studies),
each writing its own CSVs and figures; a study without what a section needs has none.

PREFIX is empty for a single task of a single study (the demo) and `<study>_<task>_<metric>_`
otherwise. Missing or unfinished runs are listed in the report, never fatal.
"""

import math

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import analysis as task_analysis
from xlt_jax.reporting import (
  base_model,
  conditions,
  figures,
  html,
  outputs,
  pairwise,
  parallel,
  polyglot,
  run_files,
  statistics,
  tables,
)
from xlt_jax.reporting.results import METRICS_FILE, StudyResults, collect_results, column_label, select_metric

READINGS = [("relative_to_english", "non-English mean / English"),
            ("balanced_relative_to_english", "(seen + unseen) / 2 / English"),
            ("avg_relative_to_english", "Avg. / English")]


def _derived_rows(item: task_analysis.TaskAnalysis) -> list[tuple[str, str, list[float], int]]:
  """(CSV column, label, per-budget values, decimals) of the summary table."""
  summary = item.summary
  lines = [("english", "English", summary["english_scores"], 2),
           ("average", "Avg. (all languages)", item.rows[tables.AVERAGE_ROW], 2),
           ("seen_mean", f"Seen mean ({', '.join(summary['seen'])})", summary["seen_mean"], 2),
           ("unseen_mean", f"Unseen mean ({', '.join(summary['unseen'])})",
            summary["unseen_mean"], 2),
           ("seen_unseen_gap", "Seen - unseen gap", summary["seen_unseen_gap"], 2),
           ("non_english_mean", "Non-English mean", summary["non_english_mean"], 2)]
  lines += [(key, f"Relative to English ({label})", summary[key], 3) for key, label in READINGS]
  lines += [(f"{outputs.slug(name)}_mean", f"{name} mean ({', '.join(item.groups[name])})", values, 2)
            for name, values in item.group_means.items()]
  return lines


def _interval_lines(item: task_analysis.TaskAnalysis) -> list[list]:
  """CSV lines: quantity, budget, estimate, low, high, method, run-to-run spread."""
  lines = []
  for quantity, intervals in item.intervals.items():
    for budget, interval in zip(item.budgets, intervals):
      if interval is not None:
        lines.append([quantity, budget, interval.estimate, interval.low, interval.high,
                      interval.method, item.noise.get(quantity, math.nan)])
  for language, intervals in item.cell_intervals.items():
    for budget, interval in zip(item.budgets, intervals):
      if interval is not None:
        lines.append([language, budget, interval.estimate, interval.low, interval.high,
                      interval.method, math.nan])
  return lines


def _statements(item: task_analysis.TaskAnalysis) -> list[str]:
  summary = item.summary
  lines = []
  if item.metric in task_analysis.LOWER_IS_BETTER:
    lines.append(f"{item.metric}: lower is better, and a language's value is computed over the"
                 " pooled tokens of its items; gap bridged, the peak and item intervals (which"
                 " read the highest value as the best, or average items) are not computed")
  for key, label in ([] if item.metric in task_analysis.LOWER_IS_BETTER else READINGS):
    gap = summary["gap_bridged"][key]
    lines.append(f"Gap bridged ({label}): not computed (no budget-0 run with results, or"
                 " English scores 0 there)"
                 if gap is None else
                 f"Gap bridged ({label}): {gap['points']:+.1f} percentage points ({gap['baseline']:.3f}"
                 f" at budget 0 -> {gap['best']:.3f} at budget {gap['best_budget']})")
  if item.metric not in task_analysis.LOWER_IS_BETTER:
    lines.append(f"Peak non-English mean: {outputs.format_value(summary['peak_non_english_mean'], 3)}"
                 f" at {column_label(summary['peak_budget'])}")
  rho = summary["spearman_seen_unseen"]
  lines.append(f"Spearman rho of seen vs unseen means over {rho['n']} {_axis(item)}s: "
               f"{outputs.format_value(rho['rho'], 3)}, p = {outputs.format_value(rho['p'], 3)}")
  pearson = item.pearson
  lines.append(f"Pearson r of seen vs unseen means over {pearson.n} {_axis(item)}s: "
               f"{outputs.format_value(pearson.value, 3)}, p = {outputs.format_value(pearson.p, 3)}, "
               f"{pearson.confidence:.0%} interval [{outputs.format_value(pearson.low, 3)},"
               f" {outputs.format_value(pearson.high, 3)}] (Fisher z)")
  if item.checkpoint_spearman:
    lines += [f"Spearman rho of seen vs unseen means over the {value.n} evaluated checkpoints of"
              f" {run}: {outputs.format_value(value.value, 3)}, p = {outputs.format_value(value.p, 3)}"
              for run, value in item.checkpoint_spearman.items()]
  else:
    lines.append("Spearman over checkpoints: no run has per-checkpoint evaluations"
                 " (eval/checkpoints/STEP/metrics.json)")
  unseen_above = summary["runs_unseen_above_seen"]
  lines.append(f"{_axis(item).capitalize()}s where the unseen mean exceeds the seen mean: "
               + (", ".join(map(str, unseen_above)) or "none"))
  return lines


def _effect_lines(item: task_analysis.TaskAnalysis) -> list[str]:
  lines = []
  for effect in item.effects:
    if math.isnan(effect.value):  # e.g. a gap in a study without unseen languages
      continue
    text = f"{effect.label}: {effect.value:+.3f}"
    if effect.interval is not None:
      text += f" [{effect.interval.low:+.3f}, {effect.interval.high:+.3f}]"
    text += ("; run-to-run spread n/a (no budget repeated with other seeds)"
             if math.isnan(effect.noise) else f"; run-to-run spread {effect.noise:.3f}")
    if effect.within_noise:
      text += " - **smaller than run-to-run noise**"
    lines.append(text)
  return lines


# What a table's numbers are, where the metric's name does not say it.
METRIC_NOTES = {
    "line_pass": "**Judge not configured** (`EvaluationConfig.judge`): this judged task shows"
                 " the Language Confusion Benchmark's line-level pass rate (the share of"
                 " responses with no line in another language), not a judge's score. (P1's"
                 " side-by-side judge, `p1_pairwise`, compares runs: its scores are in the"
                 " side-by-side section.)",
    "judge_score": "The judge's score per response (its protocol and model are in each run's"
                   " eval/metrics.json); responses failing the language check score 1 under"
                   " P0's switch-aware rule.",
}


def _task_blocks(item, prefix: str, out_dir: str, written: dict, base_blocks: list) -> list:
  header = ["language", *map(str, item.budgets)]
  table_lines = [[name, *map(outputs.format_value, values)] for name, values in item.rows.items()]
  derived = _derived_rows(item)
  files = {kind: paths.join(out_dir, f"{prefix}{kind}.csv")
           for kind in ("table", "summary", "intervals")}
  atomic_io.write_text(files["table"], outputs.csv_text(
      ["language", *item.budgets], [[name, *values] for name, values in item.rows.items()]))
  runs = {budget: " ".join(run.name for run in item_runs)
          for budget, item_runs in item.runs_by_budget.items()}
  atomic_io.write_text(files["summary"], outputs.csv_text(
      [_axis(item), "runs", *(key for key, *_ in derived)],
      [[budget, runs[budget], *(values[column] for _, _, values, _ in derived)]
       for column, budget in enumerate(item.budgets)]))
  atomic_io.write_text(files["intervals"], outputs.csv_text(
      ["quantity", _axis(item), "estimate", "low", "high", "method", "run_to_run_spread"],
      _interval_lines(item)))
  written.update({f"{prefix}{kind}": path for kind, path in files.items()})
  repeated = {budget: len(runs) for budget, runs in item.runs_by_budget.items() if len(runs) > 1}
  interval_header = ["quantity", *map(str, item.budgets), "run-to-run spread"]
  interval_lines = [[quantity.replace("_", " "),
                     *(interval.describe() if interval else "n/a" for interval in intervals),
                     outputs.format_value(item.noise.get(quantity, math.nan), 3)]
                    for quantity, intervals in item.intervals.items()]
  methods = sorted({interval.method for intervals in [*item.intervals.values(),
                                                      *item.cell_intervals.values()]
                    for interval in intervals if interval is not None})
  blocks = [
      html.Heading(3, f"{item.task}: {item.metric}"),
      *([html.Paragraph(METRIC_NOTES[item.metric])] if item.metric in METRIC_NOTES else []),
      html.Paragraph(("Columns: examples per seen language." if _axis(item) == "budget" else
                      "Columns: training mixtures.") + " `Avg.` is the mean over all"
                     f" {len(item.rows) - 1} evaluation languages, English included."
                     + (" Cells average the runs repeated with other seeds ("
                        + ", ".join(f"{column_label(b)}: {n} runs" for b, n in repeated.items())
                        + ")."
                        if repeated else "")),
      html.Table(header, table_lines, paths.basename(files["table"])),
      html.Heading(4, "Derived quantities"),
      html.Table(["quantity", *header[1:]], [[label, *(outputs.format_value(value, decimals)
                                                       for value in values)]
                                             for _, label, values, decimals in derived],
                 paths.basename(files["summary"])),
      html.Bullets(_statements(item)),
      html.Heading(4, "Uncertainty"),
      html.Paragraph("Intervals: " + ("; ".join(methods) if methods else
                     "none (no per-item scores in eval/predictions.jsonl, and not an"
                     " accuracy with counts)") + ". Per-language intervals are in"
                     f" `{paths.basename(files['intervals'])}`."),
      html.Table(interval_header, interval_lines, paths.basename(files["intervals"])),
      html.Heading(4, "Effects against run-to-run noise"),
      html.Bullets(_effect_lines(item)),
      *base_blocks,
  ]
  return (blocks + _change_heatmap(item, prefix, out_dir, written)
          + _training_heatmap(item, prefix, out_dir, written))


def _axis(item: task_analysis.TaskAnalysis) -> str:
  return "budget" if task_analysis.is_budget_sweep(item.budgets) else "mixture"


def _training_heatmap(item: task_analysis.TaskAnalysis, prefix: str, out_dir: str,
                      written: dict) -> list:
  """P1's train language x eval language heatmap, for a study whose columns are mixtures:
  a row per mixture (named by its training languages where study.json gives them)."""
  if _axis(item) != "mixture":
    return []
  languages = sorted(code for code in item.rows if code != tables.AVERAGE_ROW)
  labels = []
  for mixture in item.budgets:
    trained = {tuple(run.training_languages or ()) for run in item.runs_by_budget[mixture]}
    labels.append("+".join(next(iter(trained))) if len(trained) == 1 and () not in trained
                  else str(mixture))
  files = figures.plot_heatmap(
      [[item.rows[code][column] for code in languages] for column in range(len(item.budgets))],
      labels, languages, paths.join(out_dir, f"{prefix}train_eval_heatmap"),
      f"{item.study}: {item.task}\n{item.metric} by training mixture and evaluation language",
      "training languages", "evaluation language", item.metric)
  written[f"{prefix}train_eval_heatmap"] = files["png"]
  return [html.Figure(f"{item.task}: {item.metric}, training mixture x evaluation language",
                      files["png"], files["svg"])]


def _change_heatmap(item: task_analysis.TaskAnalysis, prefix: str, out_dir: str,
                    written: dict) -> list:
  """P4 App. B's view for a budget sweep: each language's change against the English-only
  run (budget 0), language x budget. Nothing without a budget-0 run and another budget."""
  if 0 not in item.budgets or len(item.budgets) < 2:
    return []
  start = item.budgets.index(0)
  languages = [code for code in item.rows if code != tables.AVERAGE_ROW]
  matrix = [[item.rows[code][column] - item.rows[code][start]
             for column, budget in enumerate(item.budgets) if budget != 0] for code in languages]
  files = figures.plot_heatmap(
      matrix, languages, [str(budget) for budget in item.budgets if budget != 0],
      paths.join(out_dir, f"{prefix}change_heatmap"),
      f"{item.study}: {item.task}\nchange against the English-only run",
      "evaluation language", "examples per seen language", f"{item.metric} - budget-0 score",
      diverging=True)
  written[f"{prefix}change_heatmap"] = files["png"]
  return [html.Figure(f"{item.task}: {item.metric} change against the English-only run"
                      " (budget 0), per language and budget", files["png"], files["svg"])]


def _study_blocks(results: StudyResults, analyses: list, multi_study: bool, out_dir: str,
                  written: dict, resamples: int, seed: int) -> list:
  study = results.study
  blocks = [html.Heading(2, f"Study: {results.name}"), html.Bullets([
      f"Results: `{results.results_dir}`",
      f"Dataset: {study.get('dataset', 'see tasks')}",
      (f"English: {study['english']}; seen: {', '.join(study['seen_languages']) or 'none'};"
       f" unseen: {', '.join(study['unseen_languages']) or 'none'}"),
      f"Runs: {len(study['runs'])} planned, {len(results.runs)} with results",
  ])]
  if results.missing:
    blocks += [html.Paragraph(f"Missing results ({len(results.missing)}): every table and"
                              " figure leaves these out", emphasis=True),
               html.Bullets(results.missing)]
  if study.get("length_warnings"):  # runs that lost training examples to the length policy
    blocks += [html.Paragraph("Length policy: some runs train on fewer unique examples than"
                              " planned (each run's length_policy.json has the counts)",
                              emphasis=True),
               html.Bullets(list(study["length_warnings"]))]
  base, base_path = run_files.base_scores(results)
  for item in analyses:
    prefix = "" if not multi_study and len(analyses) == 1 else (
        f"{outputs.slug(results.name) + '_' if multi_study else ''}{outputs.slug(item.task)}_"
        f"{outputs.slug(item.metric)}_")
    blocks += _task_blocks(item, prefix, out_dir, written,
                           base_model.blocks(item, base, base_path, study))
  prefix = f"{outputs.slug(results.name)}_" if multi_study else ""
  blocks += (pairwise.study_blocks(results, prefix, out_dir, written, resamples, seed)
             + polyglot.study_blocks(results, prefix, out_dir, written)
             + parallel.study_blocks(results, prefix, out_dir, written))
  have = {run.name: run for run in results.runs}
  header = ["run", "budget / mixture", "seed", "checkpoint step", "kept examples", "status"]
  lines = [[run["name"], str(run.get("budget", run.get("mixture"))), str(run.get("seed", "")),
            str(have[run["name"]].checkpoint_step) if run["name"] in have else "",
            str(run.get("kept_examples", "")),
            "ok" if run["name"] in have else f"missing ({METRICS_FILE})"]
           for run in study["runs"]]
  name = f"{outputs.slug(results.name) + '_' if multi_study else ''}runs"
  written[name] = paths.join(out_dir, f"{name}.csv")
  atomic_io.write_text(written[name], outputs.csv_text(header, lines))
  blocks += [html.Heading(3, "Runs"), html.Table(header, lines, f"{name}.csv")]
  return blocks


def _overview(analyses: list) -> tuple[list[str], list[list]]:
  header = ["study", "task", "metric", "budgets", "peak non-English mean", "peak budget",
            "gap bridged (points)", "Spearman rho", "Spearman p"]
  lines = [[item.study, item.task, item.metric, " ".join(map(str, item.budgets)),
            item.summary["peak_non_english_mean"], item.summary["peak_budget"],
            item.summary["gap_bridged_points"], item.summary["spearman_seen_unseen"]["rho"],
            item.summary["spearman_seen_unseen"]["p"]] for item in analyses]
  return header, lines


def write_report(studies: list[StudyResults], out_dir: str,
                 resamples: int = statistics.DEFAULT_RESAMPLES,
                 seed: int = statistics.DEFAULT_SEED) -> dict[str, str]:
  """Writes every report file for `studies` into `out_dir` (created if needed).

  Returns:
    Output name -> path: `report`, `html`, `overview`, `scores_plot`, `relative_plot`
    (PNG; the SVG beside each), and `<prefix>table` / `summary` / `intervals` per task.
  """
  written: dict[str, str] = {}
  per_study = [(results, [task_analysis.analyse(results, key, resamples, seed)
                          for key in results.task_metrics]) for results in studies]
  analyses = [item for _, items in per_study for item in items]
  blocks = [html.Heading(1, "Cross-lingual transfer report: " + ", ".join(
      results.name for results in studies)), html.Paragraph(
      f"Bootstrap intervals: {resamples} resamples, seed {seed}, over the items of"
      " eval/predictions.jsonl, each language resampled on its own; Wilson intervals for"
      " accuracies whose items are missing. Run-to-run spread: the sample standard deviation"
      " over runs repeated with other seeds (largest over budgets); an effect smaller than"
      " it is marked.")]
  for results, items in per_study:
    blocks += _study_blocks(results, items, len(studies) > 1, out_dir, written, resamples,
                            seed)
  # Sections pooled over studies of one design (P2's models, P4's models x tasks).
  blocks += (conditions.sections(studies, out_dir, written, resamples, seed)
             + parallel.sections(studies, out_dir, written, resamples, seed))
  header, lines = _overview(analyses)
  written["overview"] = paths.join(out_dir, "overview.csv")
  atomic_io.write_text(written["overview"], outputs.csv_text(header, lines))
  blocks += [html.Heading(2, "Overview"), html.Table(header, [[outputs.format_value(cell, 3)
                                                              for cell in line] for line in lines],
                                                     "overview.csv")]
  blocks.append(html.Heading(2, "Figures"))
  for key, stem, relative, caption in [
      ("scores_plot", "scores_by_budget", False, "Score by budget per language group"),
      ("relative_plot", "relative_to_english", True,
       "Group mean relative to English by budget (1.0 = English's score)")]:
    files = figures.plot_by_budget(analyses, paths.join(out_dir, stem), relative=relative)
    written[key], written[key + "_svg"] = files["png"], files["svg"]
    blocks.append(html.Figure(caption, files["png"], files["svg"]))
  title = blocks[0].text
  written["html"] = paths.join(out_dir, "report.html")
  atomic_io.write_text(written["html"], html.render_html(blocks, title))
  # Written last, so a report.md on disk means every file it describes is there.
  written["report"] = paths.join(out_dir, "report.md")
  atomic_io.write_text(written["report"], html.markdown(blocks, out_dir))
  return written


def out_dir_for(results_dirs: list[str], out_dir: str | None) -> str:
  """`out_dir`, else RESULTS_DIR/report for a single study.

  Raises:
    UserInputError: several studies and no out_dir.
  """
  if out_dir is None and len(results_dirs) > 1:
    raise UserInputError("several --results_dir need an --out_dir for the joint report")
  return out_dir or paths.join(results_dirs[0], "report")


def build_report(results_dirs: str | list[str], out_dir: str | None = None,
                 metric: str | None = None, resamples: int = statistics.DEFAULT_RESAMPLES,
                 seed: int = statistics.DEFAULT_SEED) -> dict[str, str]:
  """Reads one or more studies' results and writes one report (see `write_report`).

  Args:
    results_dirs: a study's MODEL_DIR, or several (one report across studies).
    out_dir: where to write; defaults to `RESULTS_DIR/report` for a single study.
    metric: report only the tables of this metric (default: every task's own metric).

  Raises:
    UserInputError: see `results.collect_results`; several studies and no out_dir; a
      metric no study reports.
  """
  results_dirs = [results_dirs] if isinstance(results_dirs, str) else list(results_dirs)
  out_dir = out_dir_for(results_dirs, out_dir)
  studies = select_metric([collect_results(directory) for directory in results_dirs], metric)
  return write_report(studies, out_dir, resamples, seed)
