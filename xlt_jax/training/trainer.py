"""The training loop of one run: batches in, checkpoints, metrics and a summary out.

The loop owns all I/O; the step functions it calls are pure (`xlt_jax.training.train_step`).
A run resumes where its newest restorable checkpoint left it, stops cleanly on a
preemption notice, and stops on a non-finite loss without saving the damage.
"""

import dataclasses
import math
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.models import chat_templates, flops
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.lora import LoraConfig
from xlt_jax.training import (
  batches,
  checkpointing,
  distributed,
  length_policy,
  metrics_log,
  resume_guard,
  step_functions,
)
from xlt_jax.training.metrics_log import MetricsLog
from xlt_jax.training.preemption import Preempted
from xlt_jax.training.train_step import OptimizerConfig, TrainState, global_batch

SUMMARY_FILE = "train_summary.json"  # written last: its presence means training finished
LENGTHS_FILE = length_policy.LENGTHS_FILE  # per task and language: examples, truncated, dropped
CHECKPOINTS_DIR = "checkpoints"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How long and how to train one run (P0 §3: batch 64 unpacked, checkpoints every 50 steps).

  Rows hold inputs_length + targets_length tokens. Length policy (counted per task
  before training, printed, and written to LENGTHS_FILE and the summary):
    - plain prompt/target examples: a prompt longer than inputs_length keeps its
      last inputs_length tokens (the question and the EOS that ends the prompt);
      an example whose target (with EOS) is longer than targets_length is dropped,
      never cut, so that no answer is trained with a premature end.
    - chat examples (chat_template set): the whole conversation must fit in
      inputs_length + targets_length + 1 tokens; otherwise it is cut after the last
      assistant turn that fits (every trained turn is whole), or dropped if not
      even the first assistant turn fits.
  Budgets: a run trains on exactly the examples the policy keeps (`kept`), each once
  per epoch (`batches.training_batches`): num_epochs whole epochs of
  ceil(kept / batch_size) steps (an epoch budget, P2, P4), or, with num_steps, that many
  steps (a step budget, P1, P3: epochs follow one another, the last one partial).
  Repetition is only ever by whole epochs; max_steps caps either. With pack the kept
  examples are packed once (`batches.packed_rows`) and an epoch is ceil(packed rows /
  batch_size) steps over those rows, so it still holds every kept example exactly once.
  """

  batch_size: int = 64  # global, in sequences (rows)
  num_microbatches: int = 1  # gradient accumulation: same update, 1/n of the activations
  inputs_length: int = 256  # prompt tokens per example (see the length policy above)
  targets_length: int = 256  # completion tokens per example
  pack: bool = False  # several examples per row (segment ids); P0 trains unpacked
  chat_template: str | None = None  # chat_templates family; None: plain prompt + target
  num_epochs: float = 1.0  # epoch budget: whole passes over the kept training examples
  num_steps: int | None = None  # step budget instead (P1, P3: 2,000 steps)
  max_steps: int | None = None  # optional cap on the number of steps
  # Residual dropout in every layer while training (P1: 0.05); validation and evaluation
  # never drop out. The masks are seeded by `seed` and the step.
  dropout_rate: float = 0.0
  # Dropout of the attention probabilities while training (the Hugging Face configs'
  # `attention_dropout`, 0 in every family used), seeded like dropout_rate.
  attention_dropout_rate: float = 0.0
  validation_every_steps: int = 50  # validation loss; these steps are always checkpointed
  checkpoint_every_steps: int = 50  # further checkpoints (without a validation loss) between
  keep_latest_checkpoints: int = 1  # the newest ones, to resume from
  keep_best_checkpoints: int = 2  # the best ones by validation loss, to evaluate
  # Also saved and kept: every checkpoint whose step is a multiple of this (scores over
  # checkpoints, P0 Table 2); None keeps only the latest and the best.
  keep_every_n_steps: int | None = None
  async_checkpointing: bool = True  # write checkpoint files while training continues
  log_every_steps: int = 10
  seed: int = 0
  initial_checkpoint: str | None = None  # xlt checkpoint dir (python -m xlt_jax.convert)
  # Low-rank adapters (rank 0: full fine-tuning). With rank > 0 the initial checkpoint is the
  # frozen base, loaded at every (re)start, and checkpoints hold the adapters alone.
  lora: LoraConfig = LoraConfig()  # noqa: RUF009 (frozen, so one shared default is safe)
  # Resume a run whose optimizer, seed, batch, lengths, model or data differ from those it
  # was started with (resume_guard.RESUME_FILE); by default such a resume is refused, naming them.
  allow_changed_resume: bool = False
  # JAX's persistent compilation cache (compile_cache): a relative path is under MODEL_DIR,
  # which on a pod is shared storage; None compiles everything afresh in each launch.
  compilation_cache_dir: str | None = ".jax_cache"

  def __post_init__(self):
    if self.chat_template is not None and self.chat_template not in chat_templates.FAMILIES:
      raise UserInputError(f"unknown TrainConfig.chat_template {self.chat_template!r}; known:"
                           f" {', '.join(chat_templates.FAMILIES)} (or None for plain prompts)")
    if self.num_steps is None and (self.num_epochs < 1 or self.num_epochs != int(self.num_epochs)):
      raise UserInputError(f"TrainConfig.num_epochs={self.num_epochs} must be a whole number of"
                           " epochs (at least 1), or set TrainConfig.num_steps instead")
    if self.num_steps is not None and self.num_steps < 1:
      raise UserInputError(f"TrainConfig.num_steps must be at least 1, not {self.num_steps}")
    for name in ("dropout_rate", "attention_dropout_rate"):
      if not 0 <= getattr(self, name) < 1:
        raise UserInputError(f"TrainConfig.{name} {getattr(self, name)} must be in [0, 1)")

  @property
  def feature_lengths(self) -> batches.FeatureLengths:
    return batches.FeatureLengths(self.inputs_length, self.targets_length)

  def total_steps(self, epoch_rows: int) -> int:
    """Steps of a run whose epoch is `epoch_rows` rows (the kept examples, or the packed
    rows that hold them: `batches.epoch_rows`): num_steps, else num_epochs whole epochs
    of batches.steps_per_epoch each; at most max_steps."""
    if self.num_steps is not None:
      steps = self.num_steps
    else:
      steps = int(self.num_epochs) * batches.steps_per_epoch(epoch_rows, self.batch_size)
    return min(steps, self.max_steps) if self.max_steps else steps


class TrainingDiverged(UserInputError):
  """The loss or the parameters became NaN or infinite; the last good checkpoint is kept."""


def _validation_loss(functions, params, validation_batches) -> float:
  total, weight = 0.0, 0.0
  for batch in validation_batches:
    batch_total, batch_weight = functions.validation_step(
        params, global_batch(batch, functions.batch_sharding)
    )
    total, weight = total + float(batch_total), weight + float(batch_weight)
  return total / max(weight, 1.0)


def set_aside_interrupted_run(run_dir: str) -> str | None:
  """Moves the files of an unfinished attempt that left no restorable checkpoint into
  run_dir/interrupted-<time>/ (a run with one resumes instead).

  Nothing is deleted; returns the new location, or None when there was nothing.
  """
  leftovers = [name for name in (CHECKPOINTS_DIR, metrics_log.METRICS_FILE, "tensorboard")
               if paths.exists(paths.join(run_dir, name))]
  if not leftovers:
    return None
  target = paths.join(run_dir, time.strftime("interrupted-%Y%m%d-%H%M%S"))
  paths.makedirs(target)
  for name in leftovers:
    paths.rename(paths.join(run_dir, name), paths.join(target, name))
  return target


@jax.jit
def _note_nonfinite(first_nonfinite_step: jax.Array, loss: jax.Array, step: jax.Array):
  """The first step whose loss was not finite (0: none yet), kept on the device so that
  watching every step costs no host synchronisation."""
  return jnp.where((first_nonfinite_step == 0) & ~jnp.isfinite(loss), step, first_nonfinite_step)


@jax.jit
def _all_finite(tree) -> jax.Array:
  """One boolean for the whole tree: a single host synchronisation per check."""
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _sharded_abstract_state(functions) -> TrainState:
  return jax.tree.map(
      lambda leaf, leaf_sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                                       sharding=leaf_sharding),
      functions.abstract_state, functions.state_sharding)


def _restore_or_initialize(functions, manager, train_config: TrainConfig,
                           model_config: ModelConfig, mesh: Mesh, stream) -> tuple[int, TrainState]:
  """(step, state): the newest restorable checkpoint of the run (params, optimizer state,
  step), else the initial checkpoint's params with a fresh optimizer, else a seeded init."""
  restored = checkpointing.restore_newest_state(
      manager, _sharded_abstract_state(functions), lambda text: print(text, file=stream))
  if restored is not None:
    step, params, opt_state = restored
    step_array = jax.device_put(np.int32(step), functions.state_sharding.step)
    return step, TrainState(step=step_array, params=params, opt_state=opt_state)
  if train_config.initial_checkpoint and not train_config.lora.enabled:
    return 0, functions.init_from_params(
        step_functions.load_initial_params(train_config.initial_checkpoint, model_config, mesh))
  return 0, functions.init(jax.random.key(train_config.seed))


def _best_validation(records: list[dict]) -> tuple[int | None, float]:
  best_step, best_loss = None, math.inf
  for record in records:
    if "validation_loss" in record and record["validation_loss"] < best_loss:
      best_step, best_loss = record["step"], record["validation_loss"]
  return best_step, best_loss


def train_run(
    *,
    run_dir: str,
    run_name: str,
    model_config: ModelConfig,
    optimizer_config: OptimizerConfig,
    train_config: TrainConfig,
    mesh: Mesh,
    mixture: str,
    validation_mixture: str,
    num_train_examples: int,
    manifest: dict | None = None,
    preemption: threading.Event | None = None,
    stream=sys.stdout,
    lengths_counted: dict | None = None,
) -> dict:
  """Trains one run to its last step and returns its summary (also written to SUMMARY_FILE).

  A run directory holding checkpoints resumes from the newest one that restores
  (parameters, optimizer state, step and data position): the result is bit-identical
  to a run never interrupted, and metrics.jsonl continues without duplicate or missing
  steps. Files of an attempt that left no checkpoint are moved aside, never deleted.
  Validation loss is computed every `validation_every_steps` and at the last step; those
  steps, every `checkpoint_every_steps`-th and `keep_every_n_steps`-th step and a preempted
  step are checkpointed. A resume must match the settings and data (`manifest`, the run's
  example ids) the run was started with (resume_guard.RESUME_FILE; `resume_guard.run_identity`) unless
  `allow_changed_resume`; the TensorBoard events and metrics past the restored step are
  dropped. The jitted step is shared with earlier runs of the same shapes in this process
  (`step_functions.shared_functions`).
  Before training, what the length policy truncates and drops is counted per task and
  language (`length_policy.length_report`, or `lengths_counted` when the caller counted already; written
  to LENGTHS_FILE); the run trains on exactly the kept examples for its budget
  (`TrainConfig.total_steps`); `num_train_examples`, the planned count, is only recorded.
  On several hosts only the primary process writes files (orbax coordinates the checkpoints).

  Raises:
    Preempted: `preemption` was set (or, on several hosts, JAX's preemption sync point
      was reached); a checkpoint of the current step is saved first.
    TrainingDiverged: the loss or parameters became non-finite; nothing non-finite is
      saved and the last good checkpoint is kept.
    UserInputError: a checkpoint of another model shape, past this run's last step, or
      of a run started with other settings or data (see `resume_guard.check_resume`).
  """
  for name in ("validation_every_steps", "checkpoint_every_steps", "log_every_steps"):
    if getattr(train_config, name) < 1:
      raise UserInputError(f"TrainConfig.{name} must be at least 1, not"
                           f" {getattr(train_config, name)}")
  if train_config.batch_size % train_config.num_microbatches:
    raise UserInputError(f"batch_size {train_config.batch_size} is not divisible by"
                         f" num_microbatches {train_config.num_microbatches}")
  if train_config.keep_every_n_steps is not None and train_config.keep_every_n_steps < 1:
    raise UserInputError(f"TrainConfig.keep_every_n_steps must be at least 1 or None, not"
                         f" {train_config.keep_every_n_steps}")
  identity = resume_guard.run_identity(model_config, optimizer_config, train_config, manifest)
  changes = resume_guard.check_resume(run_dir, run_name, identity,
                                      train_config.allow_changed_resume,
                                      paths.join(run_dir, CHECKPOINTS_DIR))
  checkpoint_dir = paths.join(run_dir, CHECKPOINTS_DIR)
  primary = distributed.is_primary_process()
  lengths = train_config.feature_lengths
  length_counts = lengths_counted or length_policy.length_report(
      mixture, validation_mixture, lengths, manifest)
  length_policy.check_something_fits(run_name, length_counts, lengths)
  kept = length_counts["kept_examples"]
  rows = batches.epoch_rows(mixture, lengths, train_config.seed, train_config.pack, kept)
  total_steps = train_config.total_steps(rows)
  epoch_steps = batches.steps_per_epoch(rows, train_config.batch_size)
  functions = step_functions.run_step_functions(model_config, optimizer_config, train_config, mesh,
                              total_steps if optimizer_config.needs_run_length else None)
  if not checkpointing.saved_steps(checkpoint_dir):
    moved = set_aside_interrupted_run(run_dir) if primary else None
    distributed.wait_for_all_processes(f"{run_name} ready")
    if moved:
      print(f"[{run_name}] an unfinished attempt without a checkpoint was moved to {moved}",
            file=stream, flush=True)
  manager = checkpointing.open_checkpoints(
      checkpoint_dir, keep_latest=train_config.keep_latest_checkpoints,
      keep_best=train_config.keep_best_checkpoints, keep_every=train_config.keep_every_n_steps,
      asynchronous=train_config.async_checkpointing)
  log = None
  try:
    start_step, state = _restore_or_initialize(functions, manager, train_config, model_config,
                                               mesh, stream)
    if start_step > total_steps:
      raise UserInputError(f"run {run_name}: {checkpoint_dir} holds step {start_step}, past this"
                           f" run's {total_steps} steps (was the configuration changed?)")
    if start_step:
      print(f"[{run_name}] resuming at step {start_step}/{total_steps} from {checkpoint_dir}",
            file=stream, flush=True)
    if changes:
      print(f"[{run_name}] warning: resuming with changes (TrainConfig.allow_changed_resume): "
            + "; ".join(changes), file=stream, flush=True)
    if primary:
      resume_guard.record_identity(run_dir, identity, start_step, changes)
    kept_records = metrics_log.keep_records_until(run_dir, start_step) if primary else []
    if primary and start_step:
      metrics_log.keep_tensorboard_events_until(run_dir, start_step)
    best_step, best_loss = _best_validation(kept_records)
    if primary:
      length_policy.write_length_report(run_dir, run_name, length_counts, stream)
    budget = f"{total_steps / epoch_steps:g} epochs of {epoch_steps} steps" + (
        f" over {rows} packed rows" if train_config.pack else "")
    print(f"[{run_name}] {kept} training examples kept, {total_steps} steps ({budget})",
          file=stream, flush=True)
    validation = batches.validation_batches(validation_mixture, lengths, train_config.batch_size)
    # The data position is restored by replaying the deterministic pipeline: one batch
    # per step, skipped inside tf.data (no tokens reach the model or the host).
    training = batches.training_batches(mixture, lengths, train_config.batch_size,
                                        train_config.seed, pack=train_config.pack,
                                        skip_batches=start_step, kept=kept)
    sequence_length = train_config.inputs_length + train_config.targets_length
    log = MetricsLog(
        run_dir, run_name, total_steps, stream=stream,
        flops_per_step=flops.training_flops_per_token(model_config, sequence_length)
        * train_config.batch_size,
        num_chips=mesh.devices.size, peak_flops_per_chip=flops.peak_flops_per_chip(),
        start_step=start_step, enabled=primary,
    ).open()
    several_hosts = jax.process_count() > 1
    first_nonfinite = jax.device_put(np.int32(0), functions.state_sharding.step)
    start = time.perf_counter()
    first_step_done_at = None  # after the first step (compiled and run) of this attempt
    compile_seconds = None  # the first step's time: compilation (or loading it) and one step
    real_tokens, all_positions = 0, 0  # since the last log line: padding efficiency

    def stop_if_diverged(step: int, params=None) -> None:
      bad_step = int(first_nonfinite)
      if bad_step:
        problem = f"loss is not finite at step {bad_step}"
      elif params is not None and not bool(_all_finite(params)):
        problem = f"parameters are not finite after step {step}"
      else:
        return
      last_good = manager.latest_step()
      kept = (f"the last good checkpoint (step {last_good}) is kept in {checkpoint_dir}"
              if last_good is not None else "no checkpoint was saved")
      raise TrainingDiverged(f"run {run_name}: {problem}; {kept}")

    for step in range(start_step + 1, total_steps + 1):
      batch = next(training)
      batch_real_tokens = int(np.count_nonzero(batch["decoder_segment_ids"]))
      real_tokens += batch_real_tokens
      all_positions += batch["decoder_segment_ids"].size
      log.count_tokens(batch_real_tokens * jax.process_count())
      step_started = time.perf_counter()
      state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
      first_nonfinite = _note_nonfinite(first_nonfinite, metrics["loss"], state.step)
      if step == start_step + 1:  # compiled and run once: the ETA's step rate starts here
        jax.block_until_ready(metrics["loss"])
        first_step_done_at = time.perf_counter()
        compile_seconds = first_step_done_at - step_started
        log.first_step_done(step, compile_seconds)
      if log.bar_due():  # a terminal's progress bar (never in line mode: logs, pipes)
        jax.block_until_ready(metrics["loss"])  # it shows, and times, finished steps
        log.show_step(step)
      validating = step % train_config.validation_every_steps == 0 or step == total_steps
      saving = (validating or step % train_config.checkpoint_every_steps == 0
                or (train_config.keep_every_n_steps is not None
                    and step % train_config.keep_every_n_steps == 0))
      # On one host a flag set by the SIGTERM handler; on several, every host must stop at
      # the same step, which JAX's preemption sync point (via orbax) provides.
      preempted = ((preemption is not None and preemption.is_set())
                   or (several_hosts and manager.reached_preemption(step)))
      if step % train_config.log_every_steps == 0 or step == total_steps:
        metrics = dict(jax.device_get(metrics))
        metrics["padding_efficiency"] = real_tokens / max(all_positions, 1)
        real_tokens, all_positions = 0, 0
        stop_if_diverged(step)
        log.write(step, metrics)
      if saving or preempted:
        stop_if_diverged(step, state.params)  # never save a non-finite checkpoint
        validation_loss = None
        if validating:
          validation_loss = _validation_loss(functions, state.params, validation)
          # Logged before the save starts: a resumed run keeps the lines up to its step.
          log.write(step, {"validation_loss": validation_loss})
          if validation_loss < best_loss:
            best_step, best_loss = step, validation_loss
        checkpointing.save(manager, step, state, validation_loss)
      if preempted:
        manager.wait_until_finished()
        raise Preempted(f"run {run_name}: preempted at step {step}; checkpoint saved")
  finally:
    if log is not None:
      log.close()
    manager.close()  # waits for a save still being written
  summary = {
      "run": run_name,
      "steps": total_steps,
      "train_examples": num_train_examples,  # planned
      "kept_examples": kept,  # what the length policy kept: one epoch
      "steps_per_epoch": epoch_steps,
      "epochs": total_steps / epoch_steps,
      "epoch_rows": rows,  # rows of one epoch: kept examples, or the packed rows holding them
      "best_step": best_step,
      "best_validation_loss": best_loss,
      "resumed_from_step": start_step,
      "train_seconds": time.perf_counter() - start,  # of the last attempt
      "compile_seconds": compile_seconds,  # its first step: compiled, loaded or reused
      # The steps after the first (validation and checkpoints included): per step, the
      # time of a run without its compilation and set-up.
      "seconds_after_first_step": (time.perf_counter() - first_step_done_at
                                   if first_step_done_at is not None else None),
      "packed": train_config.pack,
      "truncated_examples": sum(c["truncated"] for c in length_counts["train"].values()),
      "dropped_examples": sum(c["dropped"] for c in length_counts["train"].values()),
  }
  if primary:  # orbax coordinates the checkpoints; this file is ours
    atomic_io.write_json(paths.join(run_dir, SUMMARY_FILE), summary)
  distributed.wait_for_all_processes(f"{run_name} trained")
  return summary
