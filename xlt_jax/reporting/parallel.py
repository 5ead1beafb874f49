"""P4's analyses of `ParallelDesign` studies (study.json `"design": "ParallelDesign"`).

Per study (one model x one task):
- change against the base model (P4 App. B): the English-only and bilingual runs' score
  minus the un-fine-tuned base's (RUN_DIR/eval/base/metrics.json, written by
  `python -m xlt_jax.evaluate --checkpoint=base`), run x evaluation language; the report
  says so when no run has the base's scores;
- zero-shot against direct exposure (P4 §4.3, Fig. 4): for each evaluation language l and
  each mixture that leaves l out (n04/n06/n09_without_l), its score in l against the
  bilingual run English + l (English: against the English-only run), with a two-sided
  paired t-test over the items both scored (by id; else over nothing: undefined) —
  "indistinguishable" at p >= 0.05, else "zero-shot exceeds" or "zero-shot worse".

Across every ParallelDesign study in the report (P4 aggregates tasks and models):
- win rates of bilingual over English-only (P4 Table 2): a configuration is (study,
  bilingual run En + X, evaluation language); EN = evaluated in English, direct exposure
  = in X, cross-lingual transfer = in every other evaluated language; a win is a strictly
  higher score. Wilson 95% intervals (`statistics.wilson_interval`), and the median change
  with a bootstrap interval over the configurations;
- the pooled regression (P4 Table 3, `statistics.pooled_regression`): one instance per
  (study, run, evaluation language) and per (study, evaluation language) of the base
  model; target = the score; features: model family and task (indicators against the
  first, alphabetically), pretrained only (1 for the base's instances), evaluation
  language in training, log10 model size (`run_files.model_record`) and coverage
  sqrt(L / L_max) (L training languages; L_max the design's core + additional languages
  as run.json records the design, else the most any of the study's runs has; 0 for the
  base).
  Features constant over the instances (one family, one task) or collinear with earlier
  ones are left out and named; the fit is the seeded 70/30 split with out-of-sample R²
  and bootstrap intervals of the coefficients.
"""

import math

import numpy as np

from xlt_jax.core import paths
from xlt_jax.reporting import figures, html, outputs, polyglot, run_files, statistics
from xlt_jax.reporting.results import StudyResults, TaskMetric

DESIGN = "ParallelDesign"
SIGNIFICANCE = 0.05
SETTINGS = ("EN", "Non-EN (direct exposure)", "Non-EN (cross-lingual transfer)")


def _training(results: StudyResults) -> dict[str, list[str]]:
  return {run["name"]: list(run.get("training_languages") or []) for run in results.study["runs"]}


def _english_only_and_bilingual(results: StudyResults) -> tuple[str | None, dict[str, str]]:
  """(the English-only run, {other language: the bilingual run English + it})."""
  english = results.study["english"]
  english_only, bilingual = None, {}
  for name, languages in _training(results).items():
    if languages == [english]:
      english_only = name
    elif len(languages) == 2 and english in languages:
      bilingual[next(code for code in languages if code != english)] = name
  return english_only, bilingual


def change_blocks(results: StudyResults, prefix: str, out_dir: str,
                  written: dict[str, str]) -> list:
  """The heatmap of score minus the base model's, per task (see the module docstring)."""
  base, path = run_files.base_scores(results)
  heading = html.Heading(4, "Change against the base model (P4 App. B)")
  if path is None:
    return [heading, html.Paragraph(
        "No run has the base model's scores (RUN_DIR/eval/base/metrics.json): run `python -m"
        " xlt_jax.evaluate --run_dir=RUN_DIR --checkpoint=base` on one run of the study.",
        emphasis=True)]
  english_only, bilingual = _english_only_and_bilingual(results)
  names = [name for name in [english_only, *bilingual.values()] if name]
  runs = {run.name: run for run in results.runs if run.name in names}
  blocks = [heading, html.Paragraph(f"Base model's scores: `{path}`.")]
  for key in results.task_metrics:
    if key not in base:
      blocks.append(html.Paragraph(f"{key[0]}: the base model has no {key[1]} scores"))
      continue
    rows = [name for name in names if name in runs and key in runs[name].scores]
    languages = [code for code in results.languages if not math.isnan(base[key][code])]
    matrix = [[runs[name].scores[key][code] - base[key][code] for code in languages]
              for name in rows]
    if not rows:
      continue
    stem = f"{prefix}{outputs.slug(key[0])}_p4_change_vs_base"
    labels = ["+".join(_training(results)[name]) for name in rows]
    csv_name = outputs.write_csv(out_dir, stem, ["run", "training languages", *languages],
                                 [[name, label, *line]
                                  for name, label, line in zip(rows, labels, matrix)], written)
    files = figures.plot_heatmap(
        matrix, labels, languages, paths.join(out_dir, stem),
        f"{results.name}: {key[0]}\n{key[1]} change against the base model",
        "training languages", "evaluation language", f"{key[1]} - base", diverging=True)
    written[stem + "_png"] = files["png"]
    blocks += [html.Table(["run", "training languages", *languages],
                          [[name, label, *(f"{value:+.3f}" for value in line)]
                           for name, label, line in zip(rows, labels, matrix)], csv_name),
               html.Figure(f"{key[0]}: {key[1]} minus the base model's, per training mixture"
                           " and evaluation language", files["png"], files["svg"])]
  return blocks


def zero_shot_lines(results: StudyResults, key: TaskMetric) -> list[list]:
  """Per (evaluation language, mixture leaving it out): language, N, the zero-shot and
  direct runs, their scores, n items, mean difference, t, p and the verdict."""
  english = results.study["english"]
  english_only, bilingual = _english_only_and_bilingual(results)
  direct_of = {**bilingual, **({english: english_only} if english_only else {})}
  runs = {run.name: run for run in results.runs if key in run.scores}
  lines = []
  for language in results.languages:
    direct = direct_of.get(language)
    if direct not in runs:
      continue
    for name, trained in _training(results).items():
      if name not in runs or language in trained or len(trained) <= 2:
        continue
      zero, exposed = runs[name], runs[direct]
      xs, ys, unit = polyglot.paired_values(exposed, zero, key, [language])
      test = (statistics.t_test(ys, xs, paired=True) if unit == "items"
              else statistics.t_test([], []))  # one score each: no test
      verdict = ("undefined" if math.isnan(test.p) else "indistinguishable"
                 if test.p >= SIGNIFICANCE else "zero-shot exceeds" if test.mean_difference > 0
                 else "zero-shot worse")
      lines.append([language, len(trained), name, direct, zero.scores[key][language],
                    exposed.scores[key][language], len(xs) if unit == "items" else 0,
                    test.mean_difference, test.statistic, test.p, verdict])
  return lines


def zero_shot_blocks(results: StudyResults, prefix: str, out_dir: str,
                     written: dict[str, str]) -> list:
  blocks = []
  for key in results.task_metrics:
    lines = zero_shot_lines(results, key)
    if not lines:
      continue
    stem = f"{prefix}{outputs.slug(key[0])}_p4_zero_shot"
    header = ["language", "N", "zero-shot run", "direct run", "zero-shot", "direct",
              "items", "mean difference", "t", "p", f"verdict at {SIGNIFICANCE}"]
    csv_name = outputs.write_csv(out_dir, stem, header, lines, written)
    series, labels = {}, {}
    for line in lines:
      xs, ys = series.setdefault(f"N = {line[1]}", ([], []))
      xs.append(line[5])
      ys.append(line[4])
      significant = line[10] in ("zero-shot exceeds", "zero-shot worse")
      labels.setdefault(f"N = {line[1]}", []).append(line[0] + (" *" if significant else ""))
    files = figures.plot_diagonal(series, paths.join(out_dir, stem),
                                  f"{results.name}: {key[0]}\nzero-shot against direct exposure",
                                  f"{key[1]}, bilingual English + l (direct exposure)",
                                  f"{key[1]}, mixture without l (zero-shot)", labels)
    written[stem + "_png"] = files["png"]
    counts = {}
    for line in lines:
      counts.setdefault(line[1], []).append(line[10])
    blocks += [
        html.Heading(4, f"{key[0]}: zero-shot against direct exposure (P4 §4.3)"),
        html.Paragraph("Two-sided paired t-test over the items both runs scored in the language"
                       " (mean difference: zero-shot minus direct)."),
        html.Table(header, [[*map(str, line[:4]), *(outputs.format_value(float(value), 3)
                                                    for value in line[4:6]), str(line[6]),
                             *(outputs.format_value(float(value), 3) for value in line[7:10]),
                             line[10]] for line in lines], csv_name),
        html.Bullets([f"N = {size}: " + ", ".join(f"{verdict} {verdicts.count(verdict)}"
                                                  for verdict in sorted(set(verdicts)))
                      + f" of {len(verdicts)}" for size, verdicts in sorted(counts.items())]),
        html.Figure(f"{key[0]}: each point a language and mixture; above y = x the mixture"
                    f" without the language does better; * the t-test's p < {SIGNIFICANCE}",
                    files["png"], files["svg"])]
  return blocks


def win_rate_rows(studies: list[StudyResults]) -> dict[str, list[float]]:
  """Setting -> the changes (bilingual minus English-only) of its configurations."""
  changes = {setting: [] for setting in SETTINGS}
  for results in studies:
    english = results.study["english"]
    english_only, bilingual = _english_only_and_bilingual(results)
    runs = {run.name: run for run in results.runs}
    if english_only not in runs:
      continue
    for key in results.task_metrics:
      base = runs[english_only].scores.get(key)
      for other, name in bilingual.items():
        scores = runs[name].scores.get(key) if name in runs else None
        if base is None or scores is None:
          continue
        for language in results.languages:
          setting = (SETTINGS[0] if language == english else SETTINGS[1] if language == other
                     else SETTINGS[2])
          change = scores[language] - base[language]
          if not math.isnan(change):
            changes[setting].append(change)
  return changes


def _median(values: np.ndarray) -> np.ndarray:
  return np.median(values, axis=-1)


def win_rate_blocks(studies: list[StudyResults], out_dir: str, written: dict[str, str],
                    resamples: int, seed: int) -> list:
  changes = win_rate_rows(studies)
  if not any(changes.values()):
    return []
  header = ["setting", "configurations", "wins", "win rate", "low", "high",
            "median change", "median low", "median high"]
  lines = []
  for setting, values in changes.items():
    wins = sum(value > 0 for value in values)
    wilson = statistics.wilson_interval(wins, len(values))
    median = statistics.bootstrap([values], _median, resamples, seed)
    lines.append([setting, len(values), wins, wilson.estimate, wilson.low, wilson.high,
                  median.estimate, median.low, median.high])
  csv_name = outputs.write_csv(out_dir, "p4_win_rates", header, lines, written)
  return [html.Heading(3, "Bilingual over English-only post-training (P4 Table 2)"),
          html.Paragraph("A configuration: a study (model x task), a bilingual run English + X"
                         " and an evaluation language; a win: a higher score than the"
                         " English-only run's. Win rates with Wilson 95% intervals; median"
                         f" change with a percentile bootstrap 95% interval ({resamples}"
                         f" resamples, seed {seed}) over the configurations."),
          html.Table(header, [[line[0], str(line[1]), str(line[2]),
                               *(f"{100 * value:.1f}%" for value in line[3:6]),
                               *(outputs.format_value(value, 3) for value in line[6:])]
                              for line in lines], csv_name)]


def regression_instances(studies: list[StudyResults]) -> tuple[list[dict], list[str]]:
  """(instances: features and target, notes on what is left out)."""
  notes, instances = [], []
  for results in studies:
    record = run_files.model_record(results)
    design = run_files.design_fields(results)
    # L_max: the design's languages (P4: 5 core + 5 additional = 10), where run.json records
    # the design; else the most any of the study's runs trains on (said in a note).
    l_max = (len(design["core"]) + len(design["additional"])
             if isinstance(design.get("core"), list) and isinstance(design.get("additional"), list)
             else max((len(run.training_languages or []) for run in results.runs), default=0))
    if not design:
      notes.append(f"{results.name}: L_max = {l_max}, the most training languages of its runs"
                   " (no run.json records the design)")
    if not l_max:
      notes.append(f"{results.name}: no run lists its training languages (study.json)")
      continue
    if record is None:
      notes.append(f"{results.name}: no run.json with the model, so no family or size")
    base, _ = run_files.base_scores(results)
    for key in results.task_metrics:
      common = {"family": record.family if record else "unknown", "task": key[0],
                "log10_size": record.log10_size if record else math.nan}
      for run in results.runs:
        trained = set(run.training_languages or [])
        for language, score in run.scores.get(key, {}).items():
          if not math.isnan(score):
            instances.append({**common, "study": results.name, "run": run.name,
                              "language": language, "pretrained_only": 0.0,
                              "eval_language_in_training": float(language in trained),
                              "coverage": math.sqrt(len(trained) / l_max), "score": score})
      for language, score in base.get(key, {}).items():
        if not math.isnan(score):
          instances.append({**common, "study": results.name, "run": "base",
                            "language": language, "pretrained_only": 1.0,
                            "eval_language_in_training": 0.0, "coverage": 0.0,
                            "score": score})
  return instances, notes


def _feature_columns(instances: list[dict]) -> tuple[dict[str, list[float]], list[str]]:
  """The named feature columns, the constant and collinear ones left out (and named)."""
  candidates, left_out = {}, []
  for factor in ("family", "task"):
    levels = sorted({instance[factor] for instance in instances})
    if len(levels) == 1:
      left_out.append(f"{factor} (all {levels[0]})")
    for level in levels[1:]:
      candidates[f"{factor} = {level}"] = [float(i[factor] == level) for i in instances]
  for name in ("pretrained_only", "eval_language_in_training", "log10_size", "coverage"):
    candidates[name] = [instance[name] for instance in instances]
  kept = {}
  design = np.ones((len(instances), 1))
  for name, column in candidates.items():
    trial = np.column_stack([design, column])
    if (any(math.isnan(value) for value in column)
        or np.linalg.matrix_rank(trial) <= design.shape[1]):
      left_out.append(name)
    else:
      kept[name], design = column, trial
  return kept, left_out


def regression_blocks(studies: list[StudyResults], out_dir: str, written: dict[str, str],
                      resamples: int, seed: int) -> list:
  instances, notes = regression_instances(studies)
  if not instances:
    return []
  features, left_out = _feature_columns(instances)
  outputs.write_csv(out_dir, "p4_regression_instances",
                    ["study", "run", "language", "family", "task", "pretrained_only",
                     "eval_language_in_training", "log10_size", "coverage", "score"],
                    [[instance[name] for name in ("study", "run", "language", "family", "task",
                                                  "pretrained_only", "eval_language_in_training",
                                                  "log10_size", "coverage", "score")]
                     for instance in instances], written)
  blocks = [html.Heading(3, "Pooled regression (P4 Table 3)")]
  if left_out:
    notes.append("left out (constant over the instances or collinear with the features"
                 f" before it): {', '.join(left_out)}")
  try:
    fit = statistics.pooled_regression(features, [i["score"] for i in instances],
                                       seed=seed, resamples=resamples)
  except ValueError as error:
    return (blocks + [html.Paragraph(f"Not fitted: {error} ({len(instances)} instances).")]
            + ([html.Bullets(notes)] if notes else []))
  lines = [[name, value, low, high]
           for name, value, (low, high) in zip(fit.names, fit.coefficients, fit.intervals)]
  csv_name = outputs.write_csv(out_dir, "p4_regression", ["feature", "coefficient", "low",
                                                          "high"], lines, written)
  return blocks + [
      html.Paragraph(f"{fit.method}. {fit.n_train} training and {fit.n_test} held-out"
                     f" instances (`p4_regression_instances.csv`); R² in sample"
                     f" {outputs.format_value(fit.r2_train, 3)}, out of sample"
                     f" {outputs.format_value(fit.r2_test, 3)}."),
      html.Table(["feature", "coefficient", "2.5%", "97.5%"],
                 [[line[0], *(outputs.format_value(value, 3) for value in line[1:])]
                  for line in lines], csv_name),
      *([html.Bullets(notes)] if notes else [])]


def study_blocks(results: StudyResults, prefix: str, out_dir: str,
                 written: dict[str, str]) -> list:
  """The per-study P4 section (nothing unless the study is a ParallelDesign)."""
  if results.study.get("design") != DESIGN:
    return []
  return ([html.Heading(3, "P4: parallel mixtures")]
          + change_blocks(results, prefix, out_dir, written)
          + zero_shot_blocks(results, prefix, out_dir, written))


def sections(studies: list[StudyResults], out_dir: str, written: dict[str, str],
             resamples: int, seed: int) -> list:
  """The sections pooled over every ParallelDesign study here; nothing when none is."""
  studies = [results for results in studies if results.study.get("design") == DESIGN]
  if not studies:
    return []
  count = f"{len(studies)} parallel-mixture {'study' if len(studies) == 1 else 'studies'}"
  return ([html.Heading(2, f"P4 across {count}")]
          + win_rate_blocks(studies, out_dir, written, resamples, seed)
          + regression_blocks(studies, out_dir, written, resamples, seed))
