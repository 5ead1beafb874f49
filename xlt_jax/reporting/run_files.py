"""A run's other files the per-design sections read: the base model's scores, pairwise
judgments, and the model it fine-tuned.

    RUN_DIR/eval/base/metrics.json   `python -m xlt_jax.evaluate --checkpoint=base`: the
                                     un-fine-tuned base model, in the layout of
                                     eval/metrics.json (results_store.evaluation_dir)
    RUN_DIR/eval/pairwise/<REFERENCE>/judge-p1_pairwise-<JUDGE>.jsonl
                                     P1's side-by-side judge, run on this run's predictions
                                     against <REFERENCE>'s (another run of the study, or
                                     `base`): `judges.run.judge_predictions(join_reference(
                                     ours, theirs), JudgeConfig("p1_pairwise"), client)` and
                                     `judges.run.write_results(THAT_DIR, results)`; one
                                     line per item with `id`, `language`, `status`, `verdict`
                                     (win / tie / loss) and `score` (1 / 0.5 / 0, None when
                                     unscored), as `judges.pairwise` writes them
    RUN_DIR/run.json                 the launcher's record of the run: `model` (the
                                     ModelConfig fields), `base_checkpoint` and `study`
                                     (the design's fields)
    MODEL_DIR/base/model.json        the converted base checkpoint: `hf_config` (its
                                     Hugging Face config.json, `model_type` = family)

The evaluator does not run the pairwise judge itself (it needs a reference model's
predictions): the launcher does once every run is evaluated
(`xlt_jax/evaluation/pairwise_runs.py`), and the report reads what `write_results` left in
that folder.
"""

import dataclasses
import json
import math

from xlt_jax.core import json_lines, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import results as study_results

BASE_METRICS = "eval/base/metrics.json"
PAIRWISE_DIR = "eval/pairwise"
PAIRWISE_PREFIX = "judge-p1_pairwise-"
RUN_FILE = "run.json"
BASE_MODEL_FILE = "base/model.json"


def _json(path: str) -> dict | None:
  if not paths.isfile(path):
    return None
  try:
    with paths.open(path, encoding="utf-8") as file:
      value = json.load(file)
  except (OSError, json.JSONDecodeError) as error:
    raise UserInputError(f"{path} is not valid JSON: {error}") from None
  if not isinstance(value, dict):
    raise UserInputError(f"{path} must hold a JSON object")
  return value


def base_scores(results: study_results.StudyResults) -> tuple[dict, str | None]:
  """The base model's (task, metric) -> language -> score, from the first run that has
  eval/base/metrics.json (every run of a study starts from the same base), and that
  file's path; ({}, None) when no run has one."""
  for run in results.study["runs"]:
    path = paths.join(results.results_dir, run["run_dir"], BASE_METRICS)
    metrics = _json(path)
    if metrics is not None:
      entries = study_results.task_entries(metrics, results.study, path)
      scores, _ = study_results.language_scores(entries, results.languages, path, "base", [])
      return scores, path
  return {}, None


@dataclasses.dataclass(frozen=True)
class PairwiseItems:
  """One run's side-by-side verdicts against one reference, per language."""

  run: str
  reference: str  # a run name of the study, or "base"
  judge_model: str
  scores: dict[str, list[float]]  # language -> 1 / 0.5 / 0 of the scored items
  unscored: dict[str, int]  # language -> items the judge could not score


def pairwise_items(results: study_results.StudyResults) -> list[PairwiseItems]:
  """Every pairwise judgment file of every run with results, in study order.

  Raises:
    UserInputError: a line that is not JSON or lacks `language` / `status` (names file
      and line).
  """
  found = []
  for run in results.study["runs"]:
    directory = paths.join(results.results_dir, run["run_dir"], PAIRWISE_DIR)
    if not paths.isdir(directory):
      continue
    for reference in sorted(name.rstrip("/") for name in paths.listdir(directory)):
      folder = paths.join(directory, reference)
      if not paths.isdir(folder):
        continue
      for name in sorted(paths.listdir(folder)):
        if name.startswith(PAIRWISE_PREFIX) and name.endswith(".jsonl"):
          found.append(_read_pairwise(paths.join(folder, name), run["name"], reference,
                                      name[len(PAIRWISE_PREFIX):-len(".jsonl")]))
  return found


def _read_pairwise(path: str, run: str, reference: str, judge_model: str) -> PairwiseItems:
  scores: dict[str, list[float]] = {}
  unscored: dict[str, int] = {}
  for number, item in json_lines.read_json_lines(path):
    if not (isinstance(item, dict) and isinstance(item.get("language"), str)
            and isinstance(item.get("status"), str)):
      raise UserInputError(f"{path}:{number}: a pairwise judgment needs 'language' and"
                           " 'status'")
    if item["status"] == "scored" and isinstance(item.get("score"), (int, float)):
      scores.setdefault(item["language"], []).append(float(item["score"]))
    else:
      unscored[item["language"]] = unscored.get(item["language"], 0) + 1
  return PairwiseItems(run, reference, judge_model, scores, unscored)


@dataclasses.dataclass(frozen=True)
class ModelRecord:
  """The model a study fine-tuned, for P4's pooled regression."""

  family: str  # the base checkpoint's Hugging Face model_type, else "unknown"
  parameters: int  # embeddings and projections (norms and biases left out)

  @property
  def log10_size(self) -> float:
    return math.log10(self.parameters)


def parameter_estimate(model: dict) -> int:
  """Parameters of a ModelConfig (as run.json records it): embeddings (twice when untied),
  and per layer the query, key, value and output projections and the MLP (three matrices
  when gated, else two). Norm scales and biases (under 0.1% of a 1B model) are left out,
  which moves log10 of the size by less than 0.0005."""
  embed, heads, kv, head_dim = (model["embed_dim"], model["num_heads"], model["num_kv_heads"],
                                model["head_dim"])
  attention = embed * head_dim * (2 * heads + 2 * kv)
  mlp = (3 if model.get("mlp_gated", True) else 2) * embed * model["mlp_dim"]
  embeddings = model["vocab_size"] * embed * (1 if model.get("tie_embeddings", True) else 2)
  return embeddings + model["num_layers"] * (attention + mlp)


def model_record(results: study_results.StudyResults) -> ModelRecord | None:
  """The study's model from its first run's run.json (None without one): the family is
  MODEL_DIR/base/model.json's `hf_config.model_type` where the base was converted there."""
  for run in results.study["runs"]:
    record = _json(paths.join(results.results_dir, run["run_dir"], RUN_FILE))
    if record is None or not isinstance(record.get("model"), dict):
      continue
    base = _json(paths.join(results.results_dir, BASE_MODEL_FILE)) or {}
    family = (base.get("hf_config") or {}).get("model_type") or "unknown"
    return ModelRecord(str(family), parameter_estimate(record["model"]))
  return None


def design_fields(results: study_results.StudyResults) -> dict:
  """The study design's fields as the first run's run.json records them ({} without one)."""
  for run in results.study["runs"]:
    record = _json(paths.join(results.results_dir, run["run_dir"], RUN_FILE))
    if record is not None and isinstance(record.get("study"), dict):
      return record["study"]
  return {}
