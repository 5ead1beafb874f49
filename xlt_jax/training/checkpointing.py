"""Orbax checkpoints of a run.

Saves are asynchronous (the training loop continues while files are written) and atomic:
orbax writes each step into a temporary directory and renames it when complete (on
gs://, where a rename is a copy, it writes in place and marks the step complete with a
`commit_success.txt`), so a crash mid-save leaves no half-written step that `all_steps`
would list. Directories may be local or gs:// URLs (`xlt_jax.core.paths`); orbax and
tensorstore write the files themselves. The latest N
checkpoints, the best M by validation loss and optionally every n-th step are kept. Parameters restore on their own
(evaluation); the whole training state restores for resuming, from the newest checkpoint
that restores cleanly.
"""

from typing import Any, Callable

import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models.conversion import check_shapes


def _validation_loss(metrics: dict) -> float:
  return metrics["validation_loss"]


def open_checkpoints(directory: str, *, keep_latest: int, keep_best: int,
                     keep_every: int | None = None,
                     asynchronous: bool = True) -> ocp.CheckpointManager:
  """A manager that keeps the `keep_latest` newest checkpoints, the `keep_best` of
  lowest validation loss (checkpoints saved without one count only as latest) and, with
  `keep_every`, every checkpoint whose step is a multiple of it.

  Raises:
    UserInputError: keep_latest < 1 (a run could not resume), keep_best < 0 or
      keep_every < 1.
  """
  if keep_latest < 1 or keep_best < 0:
    raise UserInputError(f"keep_latest_checkpoints must be >= 1 and keep_best_checkpoints >= 0;"
                         f" got {keep_latest} and {keep_best}")
  if keep_every is not None and keep_every < 1:
    raise UserInputError(f"keep_every_n_steps must be >= 1 or None; got {keep_every}")
  policies = [
      preservation_policy.LatestN(n=keep_latest),
      # reverse: sorted by descending loss, BestN keeps the last (lowest) n.
      preservation_policy.BestN(get_metric_fn=_validation_loss, reverse=True, n=keep_best,
                                keep_checkpoints_without_metrics=False),
  ]
  if keep_every is not None:
    policies.append(preservation_policy.EveryNSteps(interval_steps=keep_every))
  policy = preservation_policy.AnyPreservationPolicy(policies)
  options = ocp.CheckpointManagerOptions(
      best_fn=_validation_loss,
      best_mode="min",
      preservation_policy=policy,
      enable_async_checkpointing=asynchronous,
      create=True,
  )
  return ocp.CheckpointManager(
      paths.absolute(directory), options=options, item_handlers=_item_handlers()
  )


def _item_handlers() -> dict[str, ocp.CheckpointHandler]:
  return {"params": ocp.StandardCheckpointHandler(), "opt_state": ocp.StandardCheckpointHandler()}


def save(manager: ocp.CheckpointManager, step: int, state, validation_loss: float | None) -> None:
  """Starts saving params and optimizer state as separate items (evaluation reads params
  only) and returns once the arrays are copied off the devices; the files are written in
  the background. Call `manager.wait_until_finished()` before exiting.

  A checkpoint without a validation loss (a preemption save) is kept only as a latest one.
  """
  manager.save(
      step,
      args=ocp.args.Composite(
          params=ocp.args.StandardSave(state.params),
          opt_state=ocp.args.StandardSave(state.opt_state),
      ),
      metrics=None if validation_loss is None else {"validation_loss": float(validation_loss)},
      force=True,
  )


def saved_steps(directory: str) -> list[int]:
  """The steps of the complete (committed) checkpoints in `directory`, ascending; [] when
  it does not exist. Temporary directories of saves that never finished are not steps."""
  if not paths.isdir(directory):
    return []
  return sorted(ocp.utils.checkpoint_steps(directory))


def restore_newest_state(
    manager: ocp.CheckpointManager, abstract_state, warn: Callable[[str], None]
) -> tuple[int, Any, Any] | None:
  """(step, params, opt_state) of the newest checkpoint that restores cleanly, or None
  when the directory holds no checkpoint.

  `abstract_state` has `params` and `opt_state` trees of jax.ShapeDtypeStruct with
  shardings. A newest checkpoint whose files are damaged or missing is skipped with a
  warning naming its step (it is left on disk); an older one is tried next.

  Raises:
    UserInputError: a checkpoint of another model shape (naming the parameter and
      both shapes), or checkpoints exist but none restores.
  """
  failures = []
  for step in sorted(manager.all_steps(), reverse=True):
    where = f"{manager.directory}/{step}"
    try:
      saved_params = manager.item_metadata(step)["params"]
      if saved_params is None:
        raise ValueError("no params metadata")
    # Damage shows up as whatever the storage layer raises (missing files, bad JSON,
    # tensorstore errors): any of them means "this step is unusable, try the previous".
    except Exception as error:  # noqa: BLE001
      failures.append(f"step {step}: {_one_line(error)}")
      warn(f"warning: checkpoint {where} cannot be read ({_one_line(error)}); trying an older one")
      continue
    check_shapes(saved_params, abstract_state.params, where)
    try:
      restored = manager.restore(step, args=ocp.args.Composite(
          params=ocp.args.StandardRestore(abstract_state.params),
          opt_state=ocp.args.StandardRestore(abstract_state.opt_state),
      ))
    except Exception as error:  # noqa: BLE001 (as above)
      failures.append(f"step {step}: {_one_line(error)}")
      warn(f"warning: checkpoint {where} cannot be restored ({_one_line(error)});"
           " trying an older one")
      continue
    return step, restored["params"], restored["opt_state"]
  if failures:
    raise UserInputError(f"no checkpoint in {manager.directory} can be restored ("
                         + "; ".join(failures) + "); move the directory aside to start afresh")
  return None


def _one_line(error: Exception) -> str:
  text = " ".join(str(error).split()) or type(error).__name__
  return text if len(text) <= 200 else text[:197] + "..."


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
  if not paths.isdir(directory):
    raise UserInputError(f"checkpoint directory {directory} does not exist")
  manager = ocp.CheckpointManager(
      paths.absolute(directory),
      options=ocp.CheckpointManagerOptions(
          best_fn=_validation_loss, best_mode="min", create=False
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
