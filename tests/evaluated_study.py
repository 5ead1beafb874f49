"""Writes a small evaluated study in exactly the launcher's and the evaluator's layout, for
the report's tests: study.json as `runner.study_runner` writes it (a mixture design's runs
with `mixture` and `training_languages`), each run's eval/ through
`evaluation.results_store.write_results` with items and metrics shaped as
`evaluation.evaluator` makes them (per-language means by `task_metrics.mean_scores`),
the base model's evaluation in eval/base/ (`results_store.evaluation_dir(..., "base")`),
and pairwise judgments through `judges.run.write_results`.
"""

import json
import pathlib

from xlt_jax.evaluation import results_store, task_metrics
from xlt_jax.evaluation.judges import pairwise
from xlt_jax.evaluation.judges import run as judging


def write_study(root: pathlib.Path, name: str, design: str, english: str, seen: list[str],
                unseen: list[str], runs: dict[str, list[str]], tasks: list[tuple[str, str]]
                ) -> pathlib.Path:
  """study.json of a mixture design: `runs` maps run name -> training languages; `tasks`
  lists (task, Dataset.metric)."""
  root.mkdir(parents=True, exist_ok=True)
  study_tasks = [{"task": task, "dataset": task, "metric": metric,
                  "primary": task_metrics.get(metric).primary} for task, metric in tasks]
  (root / "study.json").write_text(json.dumps({
      "study": name, "design": design, "dataset": tasks[0][0],
      "metric": study_tasks[0]["primary"], "tasks": study_tasks, "english": english,
      "seen_languages": seen, "unseen_languages": unseen, "budgets": [],
      "runs": [{"name": run, "run_dir": f"runs/{run}", "seed": 0, "train_examples": 100,
                "kept_examples": 100, "mixture": run, "training_languages": languages}
               for run, languages in runs.items()],
      "length_warning_fraction": 0.01, "length_warnings": []}))
  return root


def write_evaluation(root: pathlib.Path, run: str, scores: dict[str, dict[str, list[float]]],
                     metric_of: dict[str, str], checkpoint: str = "best",
                     prediction=lambda language, index: "answer") -> None:
  """A run's evaluation: task -> language -> each item's primary score, in item order
  (ids `<task>:<index>`, the same items in every run); `prediction(language, index)` is
  each item's decoded text."""
  run_dir = str(root / "runs" / run)
  items, summaries = [], {}
  for task, by_language in scores.items():
    metric = task_metrics.get(metric_of[task])
    summary = {"dataset": task, "metric": metric.name, "primary": metric.primary,
               "languages": {}}
    for language, values in by_language.items():
      language_items = [{"id": f"{task}:{index}", "task": task, "language": language,
                         "prompt": f"prompt {index}",
                         "prediction": prediction(language, index),
                         "extracted": "answer", "answer": "answer",
                         "scores": {metric.primary: value}, "detected_language": language}
                        for index, value in enumerate(values)]
      summary["languages"][language] = {
          **task_metrics.mean_scores(item["scores"] for item in language_items),
          "count": len(language_items)}
      items += language_items
    summaries[task] = summary
  results_store.write_results(
      results_store.evaluation_dir(run_dir, checkpoint),
      items, {"run": run, "budget": None, "checkpoint": checkpoint, "selection": None,
              "checkpoint_step": 0 if checkpoint == "base" else 100, "tasks": summaries})


def write_run_record(root: pathlib.Path, run: str, model: dict,
                     design: dict | None = None) -> None:
  """The fields of run.json the report reads (`model`: ModelConfig's fields; `study`: the
  design's fields, where given)."""
  path = root / "runs" / run / "run.json"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps({"run": run, "budget": None, "model": model,
                              "base_checkpoint": None,
                              **({"study": design} if design is not None else {})}))


def write_pairwise(root: pathlib.Path, run: str, reference: str, judge_model: str,
                   verdicts: dict[str, list[str]]) -> None:
  """P1 judgments of `run` against `reference`: language -> each item's verdict (`win`,
  `tie`, `loss`, or `unparsable`), written by `judges.run.write_results`."""
  items = []
  for language, found in verdicts.items():
    for index, verdict in enumerate(found):
      scored = verdict in pairwise.SCORES
      items.append({"id": f"alpaca:{index}", "language": language,
                    "status": "scored" if scored else "unparsable",
                    "verdict": verdict if scored else None,
                    "score": pairwise.SCORES[verdict] if scored else None,
                    "choice_model_first": None, "choice_model_second": None,
                    "replies_model_first": [], "replies_model_second": [], "error": None})
  results = judging.JudgeResults("p1_pairwise", "p1-v1", judge_model, False, items,
                                 judging.summarize(items, "pairwise"), {})
  directory = root / "runs" / run / "eval" / "pairwise" / reference
  directory.mkdir(parents=True, exist_ok=True)
  judging.write_results(str(directory), results)
