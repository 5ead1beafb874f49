"""Orbax checkpoints of a run: saved every N steps with the validation loss, the best
ones kept, parameters restorable on their own for evaluation."""

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from xlt_jax.errors import UserInputError


def open_checkpoints(directory: str, max_to_keep: int) -> ocp.CheckpointManager:
  """A manager that keeps the `max_to_keep` checkpoints of lowest validation loss."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep,
      best_fn=lambda metrics: metrics["validation_loss"],
      best_mode="min",
      keep_checkpoints_without_metrics=False,
      create=True,
  )
  return ocp.CheckpointManager(
      os.path.abspath(directory), options=options, item_handlers=_item_handlers()
  )


def _item_handlers() -> dict[str, ocp.CheckpointHandler]:
  return {"params": ocp.StandardCheckpointHandler(), "opt_state": ocp.StandardCheckpointHandler()}


def save(manager: ocp.CheckpointManager, step: int, state, validation_loss: float) -> None:
  """Saves params and optimizer state as separate items (evaluation reads params only)."""
  manager.save(
      step,
      args=ocp.args.Composite(
          params=ocp.args.StandardSave(state.params),
          opt_state=ocp.args.StandardSave(state.opt_state),
      ),
      metrics={"validation_loss": float(validation_loss)},
  )
  manager.wait_until_finished()


def _choose_step(manager: ocp.CheckpointManager, which: str) -> int:
  steps = manager.all_steps()
  if not steps:
    raise UserInputError(f"no checkpoints in {manager.directory}")
  if which == "best":
    return manager.best_step()
  if which == "latest":
    return manager.latest_step()
  if not which.isdigit() or int(which) not in steps:
    raise UserInputError(
        f"checkpoint {which!r} not in {manager.directory}; choose best, latest or one of {steps}"
    )
  return int(which)


def restore_params(directory: str, which: str, abstract_params: Any) -> tuple[int, Any]:
  """Restores the parameters of checkpoint `which` ("best", "latest" or a step).

  The saved shapes must equal `abstract_params` (a tree of jax.ShapeDtypeStruct
  with shardings); a checkpoint of another model shape is an error naming the
  first mismatching parameter, never a silent load.
  """
  if not os.path.isdir(directory):
    raise UserInputError(f"checkpoint directory {directory} does not exist")
  manager = ocp.CheckpointManager(
      os.path.abspath(directory),
      options=ocp.CheckpointManagerOptions(
          best_fn=lambda metrics: metrics["validation_loss"], best_mode="min", create=False
      ),
      item_handlers=_item_handlers(),
  )
  step = _choose_step(manager, which)
  saved = manager.item_metadata(step)["params"]
  check_shapes(saved, abstract_params, f"{directory}/{step}")
  restored = manager.restore(
      step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract_params))
  )
  return step, restored["params"]


def check_shapes(saved, expected, where: str) -> None:
  """Raises UserInputError naming the first parameter whose saved shape differs."""
  saved_leaves = dict(jax.tree_util.tree_leaves_with_path(saved))
  expected_leaves = dict(jax.tree_util.tree_leaves_with_path(expected))
  for path, leaf in expected_leaves.items():
    name = jax.tree_util.keystr(path)
    if path not in saved_leaves:
      raise UserInputError(f"checkpoint {where} has no parameter {name}")
    saved_shape = tuple(saved_leaves[path].shape)
    if saved_shape != tuple(leaf.shape):
      raise UserInputError(
          f"checkpoint {where}: parameter {name} has shape {saved_shape}, the model expects"
          f" {tuple(leaf.shape)} (a checkpoint of another model?)"
      )
  extra = set(saved_leaves) - set(expected_leaves)
  if extra:
    name = jax.tree_util.keystr(sorted(extra, key=str)[0])
    raise UserInputError(f"checkpoint {where} has parameter {name} that the model lacks")
