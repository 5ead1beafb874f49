"""The training loop of one run: batches in, checkpoints, metrics and a summary out.

The loop owns all I/O; the step functions it calls are pure (`xlt_jax.train_step`).
"""

import dataclasses
import math
import os
import sys
import time

import jax
import numpy as np
from jax.sharding import Mesh

from xlt_jax import atomic_io, batches, chat_templates, checkpointing, distributed, flops
from xlt_jax.errors import UserInputError
from xlt_jax.metrics_log import MetricsLog
from xlt_jax.model import ModelConfig
from xlt_jax.train_step import OptimizerConfig, build, global_batch

SUMMARY_FILE = "train_summary.json"  # written last: its presence means training finished
LENGTHS_FILE = "length_policy.json"  # per task: examples, truncated, dropped


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
  Dropped examples shorten an epoch; the step count still follows the planned
  example count, so a run with drops sees some examples once more.
  """

  batch_size: int = 64  # global, in sequences (rows)
  num_microbatches: int = 1  # gradient accumulation: same update, 1/n of the activations
  inputs_length: int = 256  # prompt tokens per example (see the length policy above)
  targets_length: int = 256  # completion tokens per example
  pack: bool = False  # several examples per row (segment ids); P0 trains unpacked
  chat_template: str | None = None  # chat_templates family; None: plain prompt + target
  num_epochs: float = 1.0  # passes over the run's training examples
  max_steps: int | None = None  # optional cap on the number of steps
  validation_every_steps: int = 50  # also the checkpoint period
  log_every_steps: int = 10
  max_checkpoints_to_keep: int = 2  # the best ones by validation loss
  seed: int = 0
  initial_checkpoint: str | None = None  # xlt checkpoint dir (python -m xlt_jax.convert)

  def __post_init__(self):
    if self.chat_template is not None and self.chat_template not in chat_templates.FAMILIES:
      raise UserInputError(f"unknown TrainConfig.chat_template {self.chat_template!r}; known:"
                           f" {', '.join(chat_templates.FAMILIES)} (or None for plain prompts)")

  @property
  def feature_lengths(self) -> batches.FeatureLengths:
    return batches.FeatureLengths(self.inputs_length, self.targets_length)

  def total_steps(self, num_examples: int) -> int:
    """Steps for num_epochs passes over num_examples (at least one step)."""
    steps = max(1, math.ceil(self.num_epochs * num_examples / self.batch_size))
    return min(steps, self.max_steps) if self.max_steps else steps


class TrainingDiverged(UserInputError):
  """The loss became NaN or infinite; the best checkpoint so far is kept."""


def _validation_loss(functions, params, validation_batches) -> float:
  total, weight = 0.0, 0.0
  for batch in validation_batches:
    batch_total, batch_weight = functions.validation_step(
        params, global_batch(batch, functions.batch_sharding)
    )
    total, weight = total + float(batch_total), weight + float(batch_weight)
  return total / max(weight, 1.0)


# Fields that may differ between a converted checkpoint and the model that fine-tunes it.
_RUNTIME_FIELDS = ("dtype", "param_dtype", "remat_policy", "scan_unroll")


def load_initial_params(xlt_dir: str, model_config: ModelConfig, mesh: Mesh):
  """Parameters of a converted checkpoint, sharded for `mesh` (the optimizer starts fresh).

  Raises:
    UserInputError: the checkpoint's architecture differs from `model_config`
      (naming the fields), or a parameter has another shape.
  """
  from xlt_jax import convert
  from xlt_jax.model import Decoder
  from xlt_jax.train_step import abstract_params

  saved_config, params, _ = convert.load_xlt(xlt_dir, abstract_params(Decoder(model_config), mesh))
  differing = [field.name for field in dataclasses.fields(ModelConfig)
               if field.name not in _RUNTIME_FIELDS
               and getattr(saved_config, field.name) != getattr(model_config, field.name)]
  if differing:
    raise UserInputError(
        f"initial checkpoint {xlt_dir} is a different model: "
        + ", ".join(f"{name}={getattr(saved_config, name)!r} (gin: {getattr(model_config, name)!r})"
                    for name in differing))
  return params


def set_aside_interrupted_run(run_dir: str) -> str | None:
  """Moves the files of an unfinished earlier attempt into run_dir/interrupted-<time>/.

  Nothing is deleted; returns the new location, or None when there was nothing.
  """
  leftovers = [name for name in ("checkpoints", "metrics.jsonl", "tensorboard")
               if os.path.exists(os.path.join(run_dir, name))]
  if not leftovers:
    return None
  target = os.path.join(run_dir, time.strftime("interrupted-%Y%m%d-%H%M%S"))
  os.makedirs(target)
  for name in leftovers:
    os.rename(os.path.join(run_dir, name), os.path.join(target, name))
  return target


def _report_lengths(run_dir: str, run_name: str, mixture: str, validation_mixture: str,
                    lengths: batches.FeatureLengths, stream=None) -> dict:
  """Counts what the length policy truncates and drops, per task, writes LENGTHS_FILE
  and prints one line per task that loses anything."""
  report = {
      "inputs_length": lengths.inputs,
      "targets_length": lengths.targets,
      "train": batches.length_counts(mixture, "train", lengths),
      "validation": batches.length_counts(validation_mixture, "validation", lengths),
  }
  atomic_io.write_json(os.path.join(run_dir, LENGTHS_FILE), report)
  for split in ("train", "validation"):
    for task, counts in report[split].items():
      if counts["truncated"] or counts["dropped"]:
        print(f"[{run_name}] {task}: {counts['truncated']} of {counts['examples']} examples"
              f" truncated, {counts['dropped']} dropped (longer than {lengths.inputs}+"
              f"{lengths.targets} tokens)", file=stream or sys.stdout, flush=True)
  return report


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
) -> dict:
  """Trains one run from scratch and returns its summary (also written to SUMMARY_FILE).

  Validation loss is computed every `validation_every_steps` and at the last step;
  each of those steps is checkpointed and the best ones are kept.
  """
  total_steps = train_config.total_steps(num_train_examples)
  if train_config.batch_size % train_config.num_microbatches:
    raise UserInputError(f"batch_size {train_config.batch_size} is not divisible by"
                         f" num_microbatches {train_config.num_microbatches}")
  functions = build(model_config, optimizer_config, mesh, train_config.num_microbatches)
  if train_config.initial_checkpoint:
    state = functions.init_from_params(
        load_initial_params(train_config.initial_checkpoint, model_config, mesh))
  else:
    state = functions.init(jax.random.key(train_config.seed))
  lengths = train_config.feature_lengths
  length_report = _report_lengths(run_dir, run_name, mixture, validation_mixture, lengths)
  validation = batches.validation_batches(validation_mixture, lengths, train_config.batch_size)
  training = batches.training_batches(mixture, lengths, train_config.batch_size, train_config.seed,
                                      pack=train_config.pack)
  manager = checkpointing.open_checkpoints(
      os.path.join(run_dir, "checkpoints"), train_config.max_checkpoints_to_keep
  )
  sequence_length = train_config.inputs_length + train_config.targets_length
  log = MetricsLog(
      run_dir, run_name, total_steps,
      flops_per_step=flops.training_flops_per_token(model_config, sequence_length)
      * train_config.batch_size,
      num_chips=mesh.devices.size, peak_flops_per_chip=flops.peak_flops_per_chip(),
      enabled=distributed.is_primary_process(),
  ).open()
  best_step, best_loss, start = None, math.inf, time.perf_counter()
  real_tokens, all_positions = 0, 0  # since the last log line: padding efficiency
  try:
    for step in range(1, total_steps + 1):
      batch = next(training)
      batch_real_tokens = int(np.count_nonzero(batch["decoder_segment_ids"]))
      real_tokens += batch_real_tokens
      all_positions += batch["decoder_segment_ids"].size
      log.count_tokens(batch_real_tokens * jax.process_count())
      state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
      if step % train_config.log_every_steps == 0 or step == total_steps:
        metrics = dict(jax.device_get(metrics))
        metrics["padding_efficiency"] = real_tokens / max(all_positions, 1)
        real_tokens, all_positions = 0, 0
        if not np.isfinite(metrics["loss"]):
          raise TrainingDiverged(
              f"run {run_name}: loss is {metrics['loss']} at step {step}; the best checkpoint"
              f" so far (step {best_step}) is kept in {run_dir}/checkpoints"
          )
        log.write(step, metrics)
      if step % train_config.validation_every_steps == 0 or step == total_steps:
        validation_loss = _validation_loss(functions, state.params, validation)
        checkpointing.save(manager, step, state, validation_loss)
        log.write(step, {"validation_loss": validation_loss})
        if validation_loss < best_loss:
          best_step, best_loss = step, validation_loss
  finally:
    log.close()
    manager.close()
  summary = {
      "run": run_name,
      "steps": total_steps,
      "train_examples": num_train_examples,
      "best_step": best_step,
      "best_validation_loss": best_loss,
      "train_seconds": time.perf_counter() - start,
      "packed": train_config.pack,
      "truncated_examples": sum(c["truncated"] for c in length_report["train"].values()),
      "dropped_examples": sum(c["dropped"] for c in length_report["train"].values()),
  }
  if distributed.is_primary_process():  # orbax coordinates the checkpoints; this file is ours
    atomic_io.write_json(os.path.join(run_dir, SUMMARY_FILE), summary)
  distributed.wait_for_all_processes(f"{run_name} trained")
  return summary
