"""Which checkpoint of a run is its "best": each study's selection rule.

- `min_validation_loss` (P0, the default): the checkpoint with the lowest validation
  loss, as the trainer's checkpoint manager ranks them.
- `min_validation_perplexity` (P2): the same checkpoint, since perplexity is the
  exponential of the mean token loss and so ranks checkpoints identically; named for
  the paper's wording.
- `final` (P3): the last checkpoint.
- `max_validation_score` (P1: dev ROUGE-L; P4: mean validation accuracy over the
  mixture's languages): every kept checkpoint decodes the run's held-out validation
  examples (its manifest's `validation` entries) with the same engine as evaluation;
  each (dataset, language) is scored with the dataset's metric (a judged dataset with
  `selection_metric`, since selection calls no judge: P1 uses ROUGE-L);
  the rule takes the mean over languages, then over datasets, and keeps the highest
  (the earliest step on a tie).
"""

import dataclasses
import json
import statistics
from collections.abc import Callable

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import task_metrics

RULES = ("min_validation_loss", "min_validation_perplexity", "final", "max_validation_score")
# What `checkpointing.restore_params` calls each rule that needs no decoding.
RESTORE_NAME = {"min_validation_loss": "best", "min_validation_perplexity": "best",
                "final": "latest"}


def check_rule(rule: str, selection_metric: str | None) -> None:
  """Raises UserInputError for an unknown rule or metric (before any training)."""
  if rule not in RULES:
    raise UserInputError(f"EvaluationConfig.selection={rule!r} is not a selection rule; choose"
                         f" one of {', '.join(RULES)}")
  if selection_metric is not None:
    task_metrics.get(selection_metric)


@dataclasses.dataclass(frozen=True)
class ValidationSet:
  """One (dataset, language) of a run's held-out validation examples."""

  dataset: str
  language: str
  metric: str
  examples: list[dict]  # as tasks.datasets reads them: id, inputs, targets, answer


def validation_sets(run_dir: str, data_dir: str, selection_metric: str | None) -> list[ValidationSet]:
  """The run's validation examples per (dataset, language), read from its manifest.

  `selection_metric` scores the datasets whose own metric is a judge's.

  Raises:
    UserInputError: the run has no manifest, or a judged dataset and no `selection_metric`.
  """
  from tasks import datasets  # the binaries register tasks; reading examples needs none

  path = paths.join(run_dir, "manifest.json")
  if not paths.isfile(path):
    raise UserInputError(f"{path} does not exist: max_validation_score needs the run's manifest")
  with paths.open(path, encoding="utf-8") as file:
    manifest = json.load(file)
  found = []
  for entry in manifest["validation"]:
    metric = datasets.get_dataset(entry["dataset"]).metric
    if metric in task_metrics.JUDGED:
      metric = selection_metric
    if metric is None:
      raise UserInputError(
          f"selection max_validation_score decodes {entry['dataset']}, which is scored by a"
          " judge: set EvaluationConfig.selection_metric to a metric that needs none (P1:"
          " 'rouge_l' against the reference responses)")
    by_id = {example["id"]: example for example in datasets.read_examples(
        entry["dataset"], data_dir, entry["language"], entry["split"])}
    found.append(ValidationSet(entry["dataset"], entry["language"], metric,
                               [by_id[example_id] for example_id in entry["ids"]]))
  return found


def validation_score(sets: list[ValidationSet],
                     complete: Callable[[ValidationSet], list[str]]) -> dict:
  """The rule's score of one checkpoint: `complete(validation_set)` decodes its examples'
  inputs with it, in order. Returns {"score": mean over datasets of the mean over languages,
  "datasets": {dataset: {language: primary score}}}."""
  per_dataset: dict[str, dict[str, float]] = {}
  for validation in sets:
    metric = task_metrics.get(validation.metric)
    texts = complete(validation)
    scores = [metric.score(task_metrics.Item(
        validation.language, example["inputs"], text, example["answer"] or example["targets"]))[1]
        for example, text in zip(validation.examples, texts)]
    value = task_metrics.mean_scores(scores).get(metric.primary)
    if value is not None:
      per_dataset.setdefault(validation.dataset, {})[validation.language] = value
  means = [statistics.fmean(languages.values()) for languages in per_dataset.values()]
  return {"score": statistics.fmean(means) if means else float("nan"), "datasets": per_dataset}


def choose(scores: dict[int, dict]) -> int:
  """The step with the highest score (the earliest on a tie; NaN never wins)."""
  ranked = [(score["score"], -step) for step, score in scores.items()
            if score["score"] == score["score"]]
  if not ranked:
    raise UserInputError("no checkpoint has a validation score (every validation set empty)")
  return -max(ranked)[1]
