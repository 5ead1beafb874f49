"""What a resumed run must share with the attempt that started it, and the refusal when not.

A run records its identity (optimizer settings, the fields that decide its batches, the
model's architecture, a digest of its data) in RESUME_FILE when it starts; a resume that
differs is refused, naming each difference, unless the user allows it.
"""

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xlt_jax.training import checkpointing
from xlt_jax.training.train_step import OptimizerConfig

if TYPE_CHECKING:
  from xlt_jax.training.trainer import TrainConfig

RESUME_FILE = "started_with.json"  # what a resumed attempt must match (run_identity)

# TrainConfig fields that decide which rows a run's batches hold; the others set how long
# it trains, what it saves and logs, or how the same update is computed.
_IDENTITY_TRAIN_FIELDS = ("seed", "batch_size", "inputs_length", "targets_length", "pack",
                          "chat_template", "dropout_rate", "attention_dropout_rate")


def run_identity(model_config: ModelConfig, optimizer_config: OptimizerConfig,
                 train_config: "TrainConfig", manifest: dict | None = None) -> dict:
  """What a resumed attempt must share with the one that started the run: every optimizer
  setting, the TrainConfig fields that decide its batches, the model's architecture and,
  given the run's manifest (`tasks.selection`), a digest of each task's example ids and
  source file. JSON values (tuples become lists), as RESUME_FILE stores them."""
  identity = {f"OptimizerConfig.{field.name}": getattr(optimizer_config, field.name)
              for field in dataclasses.fields(optimizer_config)}
  identity.update({f"TrainConfig.{name}": getattr(train_config, name)
                   for name in _IDENTITY_TRAIN_FIELDS})
  # Which parameters train and how: a resume with other adapters would mix two fine-tunings.
  identity.update({f"LoraConfig.{field.name}": getattr(train_config.lora, field.name)
                   for field in dataclasses.fields(train_config.lora)})
  identity.update({f"ModelConfig.{field.name}": getattr(model_config, field.name)
                   for field in dataclasses.fields(ModelConfig)
                   if field.name not in RUNTIME_FIELDS})
  if manifest is not None:
    identity["data"] = {
        f"{part} {entry['task']}": hashlib.sha256(json.dumps(
            [entry["ids"], entry.get("source_sha256")]).encode()).hexdigest()[:16]
        for part in ("train", "validation") for entry in manifest.get(part, [])}
  return json.loads(json.dumps(identity))


def _show(value) -> str:
  return f"{value:g}" if isinstance(value, float) else repr(value)


def _identity_differences(started: dict, now: dict) -> list[str]:
  """One phrase per setting in both identities that differs (a setting one of them lacks,
  from an older or newer version, is not compared)."""
  differences = []
  for key in started.keys() & now.keys():
    if key == "data" or started[key] == now[key]:
      continue
    differences.append(f"{key}={_show(started[key])}, now {_show(now[key])}")
  differences.sort()
  if "data" in started and "data" in now and started["data"] != now["data"]:
    old, new = started["data"], now["data"]
    changes = [f"{task} {what}" for tasks, what in (
        (sorted(task for task in old.keys() & new.keys() if old[task] != new[task]),
         "has other examples"),
        (sorted(new.keys() - old.keys()), "is new"),
        (sorted(old.keys() - new.keys()), "is gone")) for task in tasks]
    shown = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
    differences.append(f"its data (manifest.json): {shown}")
  return differences


def check_resume(run_dir: str, run_name: str, identity: dict, allow_changed: bool,
                 checkpoint_dir: str) -> list[str]:
  """The differences between `identity` and what the run's RESUME_FILE recorded when it
  started (or was last resumed with changes); [] when `checkpoint_dir` holds no checkpoint to resume
  or no record (a run started before records were kept).

  Raises:
    UserInputError: the run would resume with other settings or data, naming each
      difference, unless `allow_changed`.
  """
  path = paths.join(run_dir, RESUME_FILE)
  if not checkpointing.saved_steps(checkpoint_dir) or not paths.isfile(path):
    return []
  try:
    with paths.open(path, encoding="utf-8") as file:
      started = json.load(file)["identity"]
  except (OSError, ValueError, KeyError, TypeError) as error:
    raise UserInputError(f"cannot read {path} ({error}); move it aside to resume without"
                         " comparing settings") from None
  differences = _identity_differences(started, identity)
  if differences and not allow_changed:
    raise UserInputError(
        f"run {run_name} was started with " + "; ".join(differences)
        + ". Resuming would mix two configurations in one run: restore the settings, move"
        f" {run_dir} aside to start it afresh, or set"
        " --gin.TrainConfig.allow_changed_resume=True to resume anyway")
  return differences


def record_identity(run_dir: str, identity: dict, start_step: int,
                    differences: list[str]) -> None:
  """Writes RESUME_FILE when a run starts (or resumes without one, or with allowed
  changes): the identity a later resume is compared with, the step it was recorded at,
  and every resume allowed with changes."""
  path = paths.join(run_dir, RESUME_FILE)
  if start_step and paths.isfile(path) and not differences:
    return  # resumed as started: the record stands
  changes = []
  if start_step and paths.isfile(path):
    with paths.open(path, encoding="utf-8") as file:
      changes = json.load(file).get("changes", [])
    changes.append({"at_step": start_step, "differences": differences})
  atomic_io.write_json(path, {"identity": identity, "recorded_at_step": start_step,
                              "changes": changes})
