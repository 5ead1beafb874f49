"""Writes a study's report: the paper-style language x budget table, derived rows and plots.

    python -m xlt_jax.report --results_dir=MODEL_DIR [--out_dir=MODEL_DIR/report]

Reads `study.json` and each run's `eval/metrics.json` under the results directory and
writes `report.md`, `table.csv`, `summary.csv`, `scores_by_budget.png` and
`relative_to_english.png` (into `report/` by default).
"""

import csv
import dataclasses
import io
import json
import math

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import tables

STUDY_FILE = "study.json"
METRICS_FILE = "eval/metrics.json"


@dataclasses.dataclass(frozen=True)
class StudyResults:
  """A study's description and the scores of the runs that have results."""

  study: dict  # the validated study.json
  scores: dict[int, dict[str, float]]  # budget -> language -> score
  checkpoint_steps: dict[int, object]  # budget -> the evaluated checkpoint step
  run_names: dict[int, str]  # budget -> run name
  missing_runs: list[dict]  # study.json run entries whose metrics.json does not exist
  # budget -> training seed -> language -> score, for studies that repeat runs over seeds
  # (StudyDesign.seeds); `scores` then holds each budget's mean over its seeds.
  seed_scores: dict[int, dict[int, dict[str, float]]] = dataclasses.field(default_factory=dict)
  run_checkpoint_steps: dict[str, object] = dataclasses.field(default_factory=dict)  # by run name

  @property
  def languages(self) -> list[str]:
    return _languages(self.study)


def _languages(study: dict) -> list[str]:
  return [study["english"], *study["seen_languages"], *study["unseen_languages"]]


def _read_json(path: str, what: str) -> dict:
  try:
    with paths.open(path, encoding="utf-8") as file:
      value = json.load(file)
  except FileNotFoundError:
    raise UserInputError(f"{path} does not exist: is this a {what}?") from None
  except (OSError, json.JSONDecodeError) as error:
    raise UserInputError(f"{path} is not valid JSON: {error}") from None
  if not isinstance(value, dict):
    raise UserInputError(f"{path} must hold a JSON object, not {type(value).__name__}")
  return value


def read_study(results_dir: str) -> dict:
  """Reads and checks `RESULTS_DIR/study.json`.

  Returns:
    The study record, with `english`, `seen_languages`, `unseen_languages`, `metric` and
    `runs` (each with `name`, integer `budget` and `run_dir`) guaranteed present.

  Raises:
    UserInputError: the file is missing, not JSON, or lacks a field (names the file).
  """
  path = paths.join(results_dir, STUDY_FILE)
  study = _read_json(path, "results directory (MODEL_DIR of a study)")
  for key, kind in [("english", str), ("seen_languages", list), ("unseen_languages", list),
                    ("metric", str), ("runs", list)]:
    if not isinstance(study.get(key), kind):
      raise UserInputError(f"{path}: field {key!r} is missing or not a {kind.__name__}")
  for run in study["runs"]:
    if not (isinstance(run, dict) and isinstance(run.get("name"), str)
            and isinstance(run.get("run_dir"), str) and type(run.get("budget")) is int):
      raise UserInputError(f"{path}: each run needs a name, an integer budget and a run_dir;"
                           f" got {run!r}")
  # Runs repeated over training seeds share a budget; any other pair may not.
  keys = [(run["budget"], run.get("seed")) for run in study["runs"]]
  if len(set(keys)) != len(keys):
    raise UserInputError(f"{path}: two runs share a budget (and seed):"
                         f" {sorted(run['budget'] for run in study['runs'])}")
  return study


def collect_results(results_dir: str) -> StudyResults:
  """Reads the study and the metrics of every run that has them.

  Raises:
    UserInputError: study.json is missing or invalid, a metrics.json is malformed or
      lacks a study language, or no run has results (names the directory).
  """
  study = read_study(results_dir)
  metric = study["metric"]
  steps, names, missing, run_steps = {}, {}, [], {}
  per_seed: dict[int, dict[int, dict[str, float]]] = {}
  for run in study["runs"]:
    path = paths.join(results_dir, run["run_dir"], METRICS_FILE)
    if not paths.exists(path):
      missing.append(run)
      continue
    metrics = _read_json(path, "run's metrics file")
    per_language = metrics.get("languages") if isinstance(metrics.get("languages"), dict) else {}
    run_scores = {}
    for language in _languages(study):
      entry = per_language.get(language)
      value = entry.get(metric) if isinstance(entry, dict) else None
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserInputError(f"{path}: no numeric {metric!r} for language {language!r}")
      run_scores[language] = float(value)
    per_seed.setdefault(run["budget"], {})[run.get("seed")] = run_scores
    step, name = metrics.get("checkpoint_step"), run["name"]
    run_steps[name] = step
    budget = run["budget"]
    steps[budget] = step if budget not in steps else f"{steps[budget]}, {step}"
    names[budget] = name if budget not in names else f"{names[budget]}, {name}"
  scores = {budget: {language: sum(run[language] for run in runs.values()) / len(runs)
                     for language in _languages(study)}
            for budget, runs in per_seed.items()}
  if not scores:
    raise UserInputError(f"no run in {results_dir} has results ({METRICS_FILE} missing for"
                         f" all {len(study['runs'])} runs): evaluate the runs first")
  repeated = {budget: runs for budget, runs in per_seed.items() if len(runs) > 1}
  return StudyResults(study, scores, steps, names, missing, repeated, run_steps)


def _derived(results: StudyResults) -> tuple[list[int], tables.Rows, dict[str, list[float]]]:
  """The language x budget table and the derived rows, one value per budget each."""
  study = results.study
  budgets, rows = tables.language_by_budget_table(results.scores, results.languages)
  seen, unseen = tables.seen_unseen_means(rows, study["seen_languages"], study["unseen_languages"])
  derived = {
      "english": rows[study["english"]],
      "average": rows[tables.AVERAGE_ROW],
      "seen_mean": seen,
      "unseen_mean": unseen,
      "seen_unseen_gap": [seen_mean - unseen_mean
                          for seen_mean, unseen_mean in zip(seen, unseen)],
      "relative_to_english": tables.relative_to_english(rows, study["english"]),
      "balanced_relative_to_english": tables.balanced_relative_to_english(
          rows, study["seen_languages"], study["unseen_languages"], study["english"]),
  }
  return budgets, rows, derived


DERIVED_LABELS = {
    "seen_mean": "Seen mean (English excluded)",
    "unseen_mean": "Unseen mean",
    "seen_unseen_gap": "Seen - unseen gap",
    "relative_to_english": "Relative to English (non-English mean / English)",
    "balanced_relative_to_english": "Relative to English ((seen + unseen) / 2 / English)",
}


def _markdown(results: StudyResults, budgets: list[int], rows: tables.Rows,
              derived: dict[str, list[float]]) -> str:
  study = results.study
  header = ["language", *map(str, budgets)]
  parts = [
      f"# Cross-lingual transfer report: {study.get('study', '(unnamed study)')}\n",
      f"- Dataset: {study.get('dataset', 'unknown')}\n- Metric: {study['metric']}\n"
      f"- English: {study['english']}\n"
      f"- Seen languages: {', '.join(study['seen_languages']) or 'none'}\n"
      f"- Unseen languages: {', '.join(study['unseen_languages']) or 'none'}\n"
      f"- Budgets (samples per seen language): "
      f"{', '.join(str(run['budget']) for run in study['runs'])}\n",
  ]
  if results.missing_runs:
    parts.append(
        f"**Missing results: {len(results.missing_runs)} of {len(study['runs'])} runs lack"
        f" {METRICS_FILE}, so every table and plot leaves them out:** " + ", ".join(
            f"{run['name']} (budget {run['budget']}, {run['run_dir']})"
            for run in results.missing_runs) + "\n")
  parts += [
      f"## {study['metric']} by evaluation language and budget\n",
      "Columns: samples per non-English training language. `Avg.` is the mean over all"
      f" {len(results.languages)} evaluation languages, English included, as in the paper.\n",
      tables.markdown_table(header, [[name, *map(tables.format_score, values)]
                                     for name, values in rows.items()]),
      "## Derived quantities\n",
      # Ratios get 3 decimals: the paper's gap-bridged effects are a few hundredths.
      tables.markdown_table(["quantity", *header[1:]], [
          [label, *(tables.format_score(value, 3 if "relative" in key else 2)
                    for value in derived[key])] for key, label in DERIVED_LABELS.items()]),
  ]
  gap = tables.gap_bridged(budgets, derived["relative_to_english"])
  parts.append(
      "Gap bridged: not computed (no budget-0 run with results to compare against).\n"
      if gap is None else
      f"Gap bridged: {gap.points:+.1f} percentage points (relative to English"
      f" {gap.baseline:.3f} at budget 0 -> {gap.best:.3f} at budget {gap.best_budget}).\n")
  if results.seed_scores:
    parts += [
        "## Run-to-run noise\n",
        ("Budgets trained once per training seed (same examples, another data order and"
         " dropout): the table above shows their mean; here each seed's Avg. over the"
         f" {len(results.languages)} languages and the spread (largest - smallest).\n"),
        tables.markdown_table(["budget", "seeds", "Avg. per seed", "spread"], [
            [str(budget), ", ".join(map(str, runs)),
             ", ".join(tables.format_score(sum(run.values()) / len(run)) for run in runs.values()),
             tables.format_score(max(sum(run.values()) / len(run) for run in runs.values())
                                 - min(sum(run.values()) / len(run) for run in runs.values()))]
            for budget, runs in sorted(results.seed_scores.items())])]
  if study.get("length_warnings"):
    parts += ["## Length policy\n", "".join(f"- Warning: {warning}\n"
                                             for warning in study["length_warnings"])]
  parts += ["## Runs\n", tables.markdown_table(
      ["run", "budget", "seed", "checkpoint step", "kept examples", "status"],
      [[run["name"], str(run["budget"]), str(run.get("seed", "")),
        str(results.run_checkpoint_steps.get(run["name"], "")), str(run.get("kept_examples", "")),
        "missing" if run in results.missing_runs else "ok"] for run in study["runs"]])]
  return "\n".join(parts)


def _csv_text(header: list[str], lines: list[list]) -> str:
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(header)
  writer.writerows([["" if isinstance(cell, float) and math.isnan(cell) else cell
                     for cell in line] for line in lines])
  return buffer.getvalue()


def _save_figure(figure, path: str) -> None:
  # savefig writes into the temporary file object: a local file, or a store's stream.
  atomic_io.write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=120),
                             mode="wb")


def plot_scores_by_budget(path: str, budgets: list[int], rows: tables.Rows, study: dict) -> None:
  """Writes a PNG of score vs budget per language: seen solid, unseen dashed, English bold."""
  import matplotlib
  matplotlib.use("Agg")  # no display on training hosts
  from matplotlib import pyplot

  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  # Budgets are roughly geometric and include 0, so plot them evenly spaced, labelled.
  positions = range(len(budgets))
  for language, values in rows.items():
    if language == tables.AVERAGE_ROW:
      continue
    is_english = language == study["english"]
    style = "--" if language in study["unseen_languages"] else "-"
    axes.plot(positions, values, style, marker="o", label=language,
              linewidth=3 if is_english else 1.3, color="black" if is_english else None)
  axes.set(xticks=list(positions), xticklabels=[str(b) for b in budgets], ylabel=study["metric"],
           xlabel="samples per seen language", title="Score by budget (unseen dashed)")
  axes.legend(ncol=2, fontsize="small")
  figure.tight_layout()
  _save_figure(figure, path)
  pyplot.close(figure)


def plot_relative_to_english(
    path: str, budgets: list[int], derived: dict[str, list[float]]
) -> None:
  """Writes a PNG of relative-to-English, seen mean and unseen mean vs budget."""
  import matplotlib
  matplotlib.use("Agg")  # no display on training hosts
  from matplotlib import pyplot

  figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
  positions = range(len(budgets))
  left.plot(positions, derived["relative_to_english"], "-o", color="black", label="all non-English")
  for key, style, label in [("seen_mean", "-o", "seen"), ("unseen_mean", "--o", "unseen")]:
    left.plot(positions, [value / english if english else math.nan
                          for value, english in zip(derived[key], derived["english"])],
              style, label=label)
  left.set(title="Mean score relative to English", ylabel="relative to English")
  left.legend(fontsize="small")
  right.plot(positions, derived["seen_mean"], "-o", label="seen mean")
  right.plot(positions, derived["unseen_mean"], "--o", label="unseen mean")
  right.plot(positions, derived["english"], "-", color="black", linewidth=2.5, label="English")
  right.set(title="Seen and unseen means")
  right.legend(fontsize="small")
  for axes in (left, right):
    axes.set(xticks=list(positions), xticklabels=[str(b) for b in budgets],
             xlabel="samples per seen language")
  figure.tight_layout()
  _save_figure(figure, path)
  pyplot.close(figure)


def write_report(results: StudyResults, out_dir: str) -> dict[str, str]:
  """Writes every report file for `results` into `out_dir` (created if needed).

  Returns:
    Output kind (`report`, `table`, `summary`, `scores_plot`, `relative_plot`) -> path.
  """
  budgets, rows, derived = _derived(results)
  written = {name: paths.join(out_dir, file_name) for name, file_name in [
      ("report", "report.md"), ("table", "table.csv"), ("summary", "summary.csv"),
      ("scores_plot", "scores_by_budget.png"), ("relative_plot", "relative_to_english.png")]}
  atomic_io.write_text(written["table"], _csv_text(
      ["language", *budgets], [[name, *values] for name, values in rows.items()]))
  summary_keys = ["english", "average", "seen_mean", "unseen_mean", "seen_unseen_gap",
                  "relative_to_english", "balanced_relative_to_english"]
  atomic_io.write_text(written["summary"], _csv_text(
      ["run", "budget", "checkpoint_step", *summary_keys],
      [[results.run_names[budget], budget, results.checkpoint_steps[budget],
        *(derived[key][column] for key in summary_keys)] for column, budget in enumerate(budgets)]))
  plot_scores_by_budget(written["scores_plot"], budgets, rows, results.study)
  plot_relative_to_english(written["relative_plot"], budgets, derived)
  # Written last, so a report.md on disk means every file it describes is there.
  atomic_io.write_text(written["report"], _markdown(results, budgets, rows, derived))
  return written


def build_report(results_dir: str, out_dir: str | None = None) -> dict[str, str]:
  """Reads a study's results and writes its report (see `write_report` for the paths).

  Args:
    results_dir: the study's MODEL_DIR, holding study.json and runs/*/eval/metrics.json.
    out_dir: where to write; defaults to `results_dir/report`.

  Raises:
    UserInputError: see `collect_results`.
  """
  return write_report(collect_results(results_dir), out_dir or paths.join(results_dir, "report"))
