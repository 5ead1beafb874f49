"""Reads a study's results directory: study.json, each run's metrics and per-item scores.

Layout (written by `xlt_jax.runner.study_runner` and `xlt_jax.evaluation.evaluator`):

    MODEL_DIR/study.json                  english, seen_languages, unseen_languages, runs
                                          (name, run_dir, budget or (P1-P4) mixture,
                                          optional seed and training_languages), optional
                                          metric, dataset, language_groups
    MODEL_DIR/<run_dir>/eval/metrics.json one run's scores, in either format:
      multi-task: {"run", "budget", "checkpoint_step",
                   "tasks": {TASK: {"metric": M, "languages": {LANG: {M: x, "count": n}}}}}
      single-task (today's evaluator): {"run", "budget", "checkpoint_step", "metric": M,
                   "languages": {LANG: {M: x, "count": n, "correct": k}}}, read as one task
                   named by study.json's "dataset"
    MODEL_DIR/<run_dir>/eval/predictions.jsonl  one line per item: "language", "id",
                   "task" (multi-task only) and "scores": {M: x}, or (single-task) "correct"
    MODEL_DIR/<run_dir>/eval/checkpoints/<step>/metrics.json  optional: the same run
                   evaluated at other checkpoints, for correlations over checkpoints

Runs may repeat a budget with different seeds (`seed` in the run entry); missing or
unfinished runs (no metrics.json, or a task absent from it) are listed, never fatal.
"""

import dataclasses
import json
import math

from xlt_jax.core import json_lines, paths
from xlt_jax.core.errors import UserInputError

STUDY_FILE = "study.json"
METRICS_FILE = "eval/metrics.json"
PREDICTIONS_FILE = "eval/predictions.jsonl"
CHECKPOINTS_DIR = "eval/checkpoints"

TaskMetric = tuple[str, str]  # (task, metric)


@dataclasses.dataclass(frozen=True)
class RunResult:
  """One run's scores: per (task, metric), language -> score, and the item scores."""

  name: str
  budget: int | None  # examples per seen language (budget sweeps)
  mixture: str | None  # the run's mixture, for designs whose runs are not budgets
  seed: int | None
  training_languages: list[str] | None  # as study.json gives them, if it does
  checkpoint_step: object
  scores: dict[TaskMetric, dict[str, float]]
  counts: dict[TaskMetric, dict[str, int]]
  items: dict[TaskMetric, dict[str, list[float]]]  # empty where predictions.jsonl is absent
  checkpoints: dict[int, dict[TaskMetric, dict[str, float]]]  # other steps evaluated
  # The ids of `items`, in the same order (the same test items pair up across runs).
  item_ids: dict[TaskMetric, dict[str, list[str]]] = dataclasses.field(default_factory=dict)

  @property
  def column(self) -> int | str:
    """The table column the run belongs to: its budget, else its mixture."""
    return self.budget if self.budget is not None else self.mixture


@dataclasses.dataclass(frozen=True)
class StudyResults:
  results_dir: str
  study: dict  # the validated study.json
  runs: list[RunResult]  # runs with results, in study.json order
  missing: list[str]  # one line per missing run or task ("budget0050: no eval/metrics.json")
  task_metrics: list[TaskMetric]  # every (task, primary metric) some run reports

  @property
  def name(self) -> str:
    return self.study.get("study") or paths.basename(self.results_dir.rstrip("/"))

  @property
  def languages(self) -> list[str]:
    return [self.study["english"], *self.study["seen_languages"],
            *self.study["unseen_languages"]]


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
    The study record, with `english`, `seen_languages`, `unseen_languages` and `runs`
    (each with `name`, `run_dir`, and an integer `budget` in every run or a `mixture` name
    in every run; an integer `seed` and a `training_languages` list where given)
    guaranteed present; two runs share a budget (mixture) only with different seeds.

  Raises:
    UserInputError: the file is missing, not JSON, or lacks a field (names the file).
  """
  path = paths.join(results_dir, STUDY_FILE)
  study = _read_json(path, "results directory (MODEL_DIR of a study)")
  for key, kind in [("english", str), ("seen_languages", list), ("unseen_languages", list),
                    ("runs", list)]:
    if not isinstance(study.get(key), kind):
      raise UserInputError(f"{path}: field {key!r} is missing or not a {kind.__name__}")
  by_budget = all(type(run.get("budget")) is int for run in study["runs"]
                  if isinstance(run, dict))
  for run in study["runs"]:
    if not (isinstance(run, dict) and isinstance(run.get("name"), str)
            and isinstance(run.get("run_dir"), str) and type(run.get("seed", 0)) is int
            and (type(run.get("budget")) is int if by_budget
                 else isinstance(run.get("mixture"), str))
            and isinstance(run.get("training_languages", []), list)):
      raise UserInputError(f"{path}: each run needs a name, a run_dir and an integer budget"
                           " (or, in a study without budgets, a mixture name); seed must be an"
                           f" integer and training_languages a list; got {run!r}")
  keys = [(run["budget"] if by_budget else run["mixture"], run.get("seed"))
          for run in study["runs"]]
  if len(set(keys)) != len(keys):
    raise UserInputError(f"{path}: two runs share a {'budget' if by_budget else 'mixture'}"
                         f" and a seed: {sorted(keys, key=str)}")
  return study


def _number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def task_entries(metrics: dict, study: dict, path: str) -> dict[str, dict]:
  """task -> {"metric": M, "languages": {...}} for both metrics.json formats."""
  if isinstance(metrics.get("tasks"), dict):
    entries = metrics["tasks"]
  elif isinstance(metrics.get("metric"), str):
    entries = {study.get("dataset") or "task": metrics}
  else:
    raise UserInputError(f"{path}: neither a 'tasks' object nor a 'metric' name")
  for task, entry in entries.items():
    if not (isinstance(entry, dict) and isinstance(entry.get("metric"), str)
            and isinstance(entry.get("languages"), dict)):
      raise UserInputError(f"{path}: task {task!r} needs a 'metric' name and a 'languages'"
                           " object")
  # The evaluator names each task's dataset metric ("llm_judge") and the score it
  # tabulates ("primary": "judge_score", or "line_pass" when no judge is configured).
  return {task: {**entry, "metric": entry.get("primary", entry["metric"])}
          for task, entry in entries.items()}


def language_scores(entries: dict[str, dict], languages: list[str], path: str, run: str,
                    missing: list[str]) -> tuple[dict, dict]:
  """(task, metric) -> language -> score (NaN where missing, listed in `missing`), and the
  item counts, of one metrics.json's `task_entries`."""
  scores, counts = {}, {}
  for task, entry in entries.items():
    metric = entry["metric"]
    per_language, per_count = {}, {}
    for language in languages:
      cell = entry["languages"].get(language)
      value = cell.get(metric) if isinstance(cell, dict) else None
      if cell is None:
        missing.append(f"{run}: task {task} has no {language} results")
        value = math.nan
      elif not _number(value):
        raise UserInputError(f"{path}: no numeric {metric!r} for language {language!r}"
                             f" in task {task!r}")
      per_language[language] = float(value)
      count = cell.get("count") if isinstance(cell, dict) else None
      if _number(count):
        per_count[language] = int(count)
    scores[(task, metric)], counts[(task, metric)] = per_language, per_count
  return scores, counts


# Scores that only some items have, by definition: LCB's checks leave out a response with
# no line long enough to count (line_pass), or not line-clean (word_pass); a judge does not
# score a reply it could not parse (judge_score). Per-language means are over the items
# that have them, as the evaluator's are.
OPTIONAL_ITEM_SCORES = ("line_pass", "word_pass", "judge_score")


def _items(path: str, entries: dict[str, dict], single_task: str | None) -> tuple[dict, dict]:
  """(task, metric) -> language -> item scores, and their ids, from predictions.jsonl
  (both empty if absent)."""
  if not paths.exists(path):
    return {}, {}
  metric_of = {task: entry["metric"] for task, entry in entries.items()}
  items: dict = {}
  ids: dict = {}
  for number, record in json_lines.read_json_lines(path):
    task = record.get("task", single_task)
    if task not in metric_of or not isinstance(record.get("language"), str):
      raise UserInputError(f"{path}:{number}: needs a 'language' and a 'task' the run's"
                           f" metrics.json has ({', '.join(metric_of)}); got {task!r}")
    metric = metric_of[task]
    if "scores" in record and metric in OPTIONAL_ITEM_SCORES and metric not in record["scores"]:
      continue  # an item the score does not apply to (no line long enough to check)
    value = (record.get("scores") or {}).get(metric) if "scores" in record else (
        record.get("correct") if metric == "accuracy" else None)
    if not (_number(value) or isinstance(value, bool)):
      raise UserInputError(f"{path}:{number}: no per-item {metric!r} score")
    items.setdefault((task, metric), {}).setdefault(record["language"], []).append(
        float(value))
    ids.setdefault((task, metric), {}).setdefault(record["language"], []).append(
        str(record.get("id", number)))
  return items, ids


def _checkpoints(run_path: str, study: dict, languages: list[str]) -> dict:
  directory = paths.join(run_path, CHECKPOINTS_DIR)
  found = {}
  if not paths.isdir(directory):
    return found
  for name in paths.listdir(directory):
    path = paths.join(directory, name.rstrip("/"), "metrics.json")
    if name.rstrip("/").isdigit() and paths.exists(path):
      metrics = _read_json(path, "checkpoint's metrics file")
      found[int(name.rstrip("/"))] = language_scores(task_entries(metrics, study, path),
                                                     languages, path, name, [])[0]
  return dict(sorted(found.items()))


def column_label(column: int | str) -> str:
  """`budget 100` or `mixture NAME`."""
  return f"budget {column}" if isinstance(column, int) else f"mixture {column}"


def collect_results(results_dir: str) -> StudyResults:
  """Reads the study and the results of every run that has them.

  Raises:
    UserInputError: study.json is missing or invalid, a metrics.json or predictions.jsonl
      is malformed (names file and line), or no run has results (names the directory).
  """
  study = read_study(results_dir)
  languages = [study["english"], *study["seen_languages"], *study["unseen_languages"]]
  by_budget = all(type(run.get("budget")) is int for run in study["runs"])
  runs, missing, task_metrics = [], [], []
  for run in study["runs"]:
    run_path = paths.join(results_dir, run["run_dir"])
    path = paths.join(run_path, METRICS_FILE)
    if not paths.exists(path):
      missing.append(f"{run['name']} ({column_label(run['budget'] if by_budget else run['mixture'])}):"
                     f" no {METRICS_FILE}")
      continue
    metrics = _read_json(path, "run's metrics file")
    entries = task_entries(metrics, study, path)
    scores, counts = language_scores(entries, languages, path, run["name"], missing)
    single = None if "tasks" in metrics else next(iter(entries))
    items, ids = _items(paths.join(run_path, PREDICTIONS_FILE), entries, single)
    runs.append(RunResult(
        run["name"], run["budget"] if by_budget else None, None if by_budget else run["mixture"],
        run.get("seed"), run.get("training_languages"), metrics.get("checkpoint_step"), scores,
        counts, items, _checkpoints(run_path, study, languages), ids))
    task_metrics += [key for key in scores if key not in task_metrics]
  if not runs:
    raise UserInputError(f"no run in {results_dir} has results ({METRICS_FILE} missing for"
                         f" all {len(study['runs'])} runs): evaluate the runs first")
  for run in runs:  # a task some runs have and this one lacks: an unfinished evaluation
    missing += [f"{run.name} ({column_label(run.column)}): no results for task {task}"
                for task, _ in task_metrics if (task, _) not in run.scores]
  return StudyResults(results_dir, study, runs, missing, task_metrics)


def select_metric(results: list[StudyResults], metric: str | None) -> list[StudyResults]:
  """Keeps only the (task, metric) tables of `metric` (all when None).

  Raises:
    UserInputError: no study reports `metric` (names it and the metrics there are).
  """
  if metric is None:
    return results
  if not any(name == metric for study in results for _, name in study.task_metrics):
    known = sorted({f"{name} ({task})" for study in results for task, name in study.task_metrics})
    raise UserInputError(f"no study here reports metric {metric!r}; they report:"
                         f" {', '.join(known)}")
  return [dataclasses.replace(study, task_metrics=[key for key in study.task_metrics
                                                   if key[1] == metric]) for study in results]
