"""Ahead-of-time plans: the real train step compiled for a TPU topology on a machine
without one, and what a sweep of runs would cost.

libtpu compiles for a topology description (`jax.experimental.topologies`) from
abstract shapes, so nothing is allocated and no TPU is needed. The numbers come
from XLA: per-chip memory from `memory_analysis()`, FLOPs and libtpu's own runtime
estimate (`optimal_seconds`) from `cost_analysis()`. With `TrainConfig.lora` the step
planned is the LoRA step training runs (`lora_step`): the frozen base (int8 where
`LoraConfig.base_dtype` says so) is an argument, only the adapters are in the gradient
and the optimizer state.
"""

import dataclasses
import math
import re
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import topologies

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import flops, int8_base, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import parameter_count
from xlt_jax.studies.designs import RunPlan
from xlt_jax.training import lora_step, sharding, train_step
from xlt_jax.training.batches import MODEL_FEATURES
from xlt_jax.training.step_functions import check_lora_dropout
from xlt_jax.training.trainer import TrainConfig


@dataclasses.dataclass(frozen=True)
class StepPlan:
  """One compiled train step on one topology. Byte and FLOP counts are per chip."""

  topology: str
  chip: str
  chips: int
  mesh_shape: dict[str, int]
  batch_size: int  # global, in sequences
  sequence_length: int
  num_microbatches: int
  parameter_count: int
  parameter_bytes: int  # this chip's shards of the parameters
  optimizer_bytes: int  # this chip's shards of the optimizer state
  argument_bytes: int  # everything passed in: parameters, optimizer state, batch
  temporary_bytes: int  # activations, gradients and scratch inside the step
  total_bytes: int  # arguments + outputs not aliased to arguments + temporaries + code
  hbm_bytes: int
  fits: bool
  # None below: libtpu refused to compile (out of memory; compiler_message says how much).
  compiled_flops_loop_body_once: float | None  # XLA's count: the scanned layer body once
  compiled_flops: float | None  # all layers, from probes with 1 and 2 unrolled layers
  analytic_flops: float  # model FLOPs of the step on this chip (the MFU convention)
  mfu: float  # the stated model FLOPs utilisation behind step_seconds
  step_seconds: float
  compile_seconds: float  # wall time of all compiles (the step and the two probes)
  compiler_message: str | None = None  # libtpu's out-of-memory error, when it refused
  # The gin mesh's sizes per axis when it did not fit the topology and was resized
  # (`sharding.fit_fsdp`); None when mesh_shape is gin's own.
  mesh_derived_from: dict[str, int] | None = None
  flop_probes: bool = True  # False: compiled_flops and the estimate below were skipped
  # libtpu's runtime estimate of the step (cost_analysis' optimal_seconds, extrapolated over
  # the layers like compiled_flops) and what it implies; None with estimate_note saying why.
  estimated_step_seconds: float | None = None
  estimated_tokens_per_second_per_chip: float | None = None
  estimated_mfu: float | None = None  # analytic FLOPs / chip peak / estimated_step_seconds
  estimate_note: str | None = None
  # The LoRA step's adapters (`dataclasses.asdict(LoraConfig)`), None for full fine-tuning;
  # with LoRA parameter_bytes holds the frozen base as held plus the adapters.
  lora: dict | None = None
  trainable_parameter_count: int | None = None  # in the gradient and optimizer state

  @property
  def tokens_per_second_per_chip(self) -> float:
    """At the stated MFU (step_seconds)."""
    return self.batch_size * self.sequence_length / (self.chips * self.step_seconds)

  @property
  def compiled_over_analytic(self) -> float | None:
    """Above 1 by the recomputed forward pass under remat (about 4/3 with full remat)."""
    return None if self.compiled_flops is None else self.compiled_flops / self.analytic_flops


@dataclasses.dataclass(frozen=True)
class RunEstimate:
  """The cost of one training run of a sweep at the planned step time."""

  name: str
  examples: int
  steps: int
  hours: float
  chip_hours: float


PLANNED_SCHEDULE_STEPS = 1_000_000  # the run length a planned step's schedule is built for


def topology_devices(topology: str) -> list[Any]:
  """The devices of a TPU topology such as "v5e:16x16" or "v5p:2x4x4" (libtpu's names).

  Raises:
    UserInputError: libtpu does not know the topology (its reason in the message).
  """
  try:
    description = topologies.get_topology_desc(topology, "tpu")
  except (RuntimeError, ValueError) as error:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise UserInputError(f"unknown TPU topology {topology!r}: {reason}") from None
  return list(description.devices)


def chip_of(devices: list[Any]) -> flops.Chip:
  """The chip table entry for these devices (UserInputError for chips not in the table)."""
  kind = devices[0].device_kind
  if kind not in flops.CHIPS:
    raise UserInputError(f"no peak FLOP/s or HBM known for {kind!r}; add it to flops.CHIPS")
  return flops.CHIPS[kind]


def topology_mesh(mesh_config: sharding.MeshConfig,
                  topology: str) -> tuple[jax.sharding.Mesh, dict[str, int] | None]:
  """(mesh over the topology's devices, gin's mesh sizes where its fsdp axis was resized to
  fit the chip count (`sharding.fit_fsdp`), else None).

  Raises:
    UserInputError: an unknown topology, or a mesh no fsdp size fits to it.
  """
  devices = topology_devices(topology)
  try:
    fitted = sharding.fit_fsdp(mesh_config, len(devices))
    mesh = sharding.make_mesh(fitted, devices)
  except UserInputError as error:
    raise UserInputError(f"topology {topology} ({len(devices)} chips): {error}") from None
  return mesh, None if fitted == mesh_config else mesh_config.sizes()


def bytes_per_chip(abstract_tree: Any, sharding_tree: Any) -> int:
  """Bytes of the largest shard of each leaf, summed: what one chip holds."""
  leaves = jax.tree.leaves(abstract_tree)
  shardings = jax.tree.leaves(sharding_tree, is_leaf=lambda x: isinstance(x, jax.sharding.Sharding))
  return sum(math.prod(leaf_sharding.shard_shape(leaf.shape)) * leaf.dtype.itemsize
             for leaf, leaf_sharding in zip(leaves, shardings, strict=True))


@dataclasses.dataclass(frozen=True)
class _Step:
  """A train step ready to lower: the jitted function and its abstract, sharded arguments."""

  jitted: Any
  arguments: tuple
  parameter_bytes: int  # per chip: the trained parameters, and a LoRA step's frozen base
  optimizer_bytes: int  # per chip
  trainable_parameters: int


def _sharded(abstract_tree: Any, sharding_tree: Any) -> Any:
  return jax.tree.map(
      lambda leaf, leaf_sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                                       sharding=leaf_sharding),
      abstract_tree, sharding_tree)


def _build_step(model_config: ModelConfig, optimizer_config: train_step.OptimizerConfig,
                train_config: TrainConfig, mesh: jax.sharding.Mesh,
                schedule_steps: int | None) -> _Step:
  """The step training runs would build: `train_step.build` (with the run's residual
  dropout), or with `train_config.lora` enabled `lora_step.build` with the frozen base
  held as `LoraConfig.base_dtype` says."""
  length = train_config.inputs_length + train_config.targets_length

  def batch(batch_sharding):
    return {name: jax.ShapeDtypeStruct((train_config.batch_size, length), jnp.int32,
                                       sharding=batch_sharding)
            for name in MODEL_FEATURES}

  adapters = train_config.lora
  if not adapters.enabled:
    functions = train_step.build(model_config, optimizer_config, mesh,
                                 train_config.num_microbatches, total_steps=schedule_steps,
                                 dropout_rate=train_config.dropout_rate,
                                 dropout_seed=train_config.seed)
    state = _sharded(functions.abstract_state, functions.state_sharding)
    return _Step(functions.train_step.__wrapped__, (state, batch(functions.batch_sharding)),
                 bytes_per_chip(state.params, functions.state_sharding.params),
                 bytes_per_chip(state.opt_state, functions.state_sharding.opt_state),
                 parameter_count(model_config))
  functions = lora_step.build(model_config, adapters, optimizer_config, mesh,
                              train_config.num_microbatches, train_config.seed,
                              total_steps=schedule_steps)
  state = _sharded(functions.abstract_state, functions.state_sharding)
  base = (int8_base.abstract_quantized(functions.abstract_base)
          if adapters.base_dtype == "int8" else functions.abstract_base)
  return _Step(functions.train_step.__wrapped__,
               (state, batch(functions.batch_sharding), base),
               bytes_per_chip(state.params, functions.state_sharding.params)
               + bytes_per_chip(base, functions.base_sharding),
               bytes_per_chip(state.opt_state, functions.state_sharding.opt_state),
               lora.count(functions.abstract_state.params))


def _compile(step: _Step, mesh: jax.sharding.Mesh):
  """The step compiled for its abstract arguments on `mesh`."""
  # The rules must be bound while tracing, as in the wrapped train step, so the
  # model's activation constraints shard the compiled step as in training.
  with jax.sharding.set_mesh(mesh), sharding.axis_rules():
    return step.jitted.lower(*step.arguments).compile()


def _flops(compiled) -> float:
  return float(compiled.cost_analysis()["flops"])


def optimal_seconds(compiled) -> float | None:
  """libtpu's estimate of the compiled program's runtime on its chips (`optimal_seconds`
  in `cost_analysis()`), or None where this jax/libtpu does not report a usable one. A
  scanned loop body counts once, as in the FLOPs.

  libtpu counts -1 s for each instruction it cannot cost. In the train step those are
  `ConcatBitcast` custom calls (concatenations done by bitcasts, no work; there from a
  vocabulary of 4096 up), so their placeholders are added back; a total still below zero
  means other uncosted instructions: None.
  """
  value = (compiled.cost_analysis() or {}).get("optimal_seconds")
  if value is None:
    return None
  value += compiled.as_text().count('custom_call_target="ConcatBitcast"')
  return float(value) if value > 0 else None


def _extrapolate(one_layer: float, two_layers: float, num_layers: int) -> float:
  """A per-step figure of `num_layers` layers from probes with 1 and 2 layers."""
  if num_layers == 1:
    return one_layer
  return two_layers + (num_layers - 2) * (two_layers - one_layer)


def plan_train_step(model_config: ModelConfig, optimizer_config: train_step.OptimizerConfig,
                    train_config: TrainConfig, mesh_config: sharding.MeshConfig, topology: str,
                    mfu: float, progress: Callable[[str], None] = lambda message: None,
                    flop_probes: bool = True) -> StepPlan:
  """Compiles the train step for `topology` and measures it.

  XLA's cost analysis counts a scanned loop body once, so two small probes of
  the same model and mesh, with 1 and 2 layers unrolled, give the FLOPs of one
  layer (their difference); the step's FLOPs are the 2-layer probe plus that per
  remaining layer. libtpu's runtime estimate (`optimal_seconds`) is extrapolated
  from the same probes. Without `flop_probes` only the step is compiled: memory and
  the verdict, no compiled FLOPs or estimate. The step time assumes `mfu` of the
  chip's peak on the analytic model FLOPs. A mesh that does not fit the topology
  has its fsdp axis resized (`sharding.fit_fsdp`; recorded in `mesh_derived_from`).
  `progress` hears about each compile as it starts. With `train_config.lora` enabled
  the LoRA step is planned, its analytic FLOPs without the frozen base's weight gradient
  (`flops.lora_training_flops_per_token`).

  Raises:
    UserInputError: unknown topology or chip, a mesh whose fsdp cannot be resized
      to the topology's chip count, a batch the mesh cannot split, mfu outside (0, 1],
      LoRA with residual dropout (the launcher refuses it too).
  """
  if not 0 < mfu <= 1:
    raise UserInputError(f"mfu {mfu} must be in (0, 1]")
  check_lora_dropout(train_config)
  devices = topology_devices(topology)
  chip = chip_of(devices)
  mesh, mesh_derived_from = topology_mesh(mesh_config, topology)
  if mesh_derived_from is not None:
    progress(f"mesh derived for {topology} ({len(devices)} chips): gin's {mesh_derived_from}"
             f" -> {dict(mesh.shape)}")
  batch_shards = sharding.batch_shard_count(mesh)
  if train_config.batch_size % (batch_shards * train_config.num_microbatches):
    raise UserInputError(
        f"batch of {train_config.batch_size} sequences cannot be split into"
        f" {train_config.num_microbatches} microbatches over the {batch_shards} batch shards"
        f" of mesh {dict(mesh.shape)}; move chips to tensor parallelism")

  length = train_config.inputs_length + train_config.targets_length
  chips = len(devices)
  start = time.perf_counter()
  kind = "LoRA step" if train_config.lora.enabled else "train step"
  progress(f"compiling the {kind} for {topology}, mesh {dict(mesh.shape)}")
  # A decaying schedule's length changes no shape, memory or FLOP count: any will do.
  schedule_steps = PLANNED_SCHEDULE_STEPS if optimizer_config.needs_run_length else None
  step = _build_step(model_config, optimizer_config, train_config, mesh, schedule_steps)
  if train_config.lora.enabled:
    per_token = flops.lora_training_flops_per_token(model_config, length,
                                                    step.trainable_parameters)
  else:
    per_token = flops.training_flops_per_token(model_config, length)
  analytic_step = per_token * train_config.batch_size * length
  state_bytes = (step.parameter_bytes, step.optimizer_bytes)
  try:
    compiled = _compile(step, mesh)
  except jax.errors.JaxRuntimeError as error:
    # libtpu refuses to compile a program whose temporaries exceed HBM, naming their size.
    if "RESOURCE_EXHAUSTED" not in str(error):
      raise
    compiled = None
    compiler_message = str(error).strip().splitlines()[0]
  compiled_flops = estimated_seconds = None
  if compiled is None:
    estimate_note = "not estimated: the step did not compile"
  elif not flop_probes:
    estimate_note = "not estimated: --skip_flops skips the probes it is extrapolated from"
  if compiled is not None:
    compiler_message = None
    probes = []
    for layers in (1, 2) if flop_probes else ():
      progress(f"compiling the {layers}-layer FLOP probe ({time.perf_counter() - start:.0f} s)")
      probe = dataclasses.replace(model_config, num_layers=layers, scan_unroll=layers)
      probes.append(_compile(_build_step(probe, optimizer_config, train_config, mesh,
                                         schedule_steps), mesh))
    if probes:
      compiled_flops = _extrapolate(*map(_flops, probes), model_config.num_layers)
      # (The scanned step itself reports none: libtpu leaves loops out of the estimate.)
      probe_seconds = [optimal_seconds(probe) for probe in probes]
      if None in probe_seconds:
        estimate_note = (f"not available: cost_analysis() of this libtpu (jax"
                         f" {jax.__version__}) reports no optimal_seconds for this step, or"
                         " one with instructions it cannot cost")
      else:
        estimate_note = None
        estimated_seconds = _extrapolate(*probe_seconds, model_config.num_layers)
    memory = compiled.memory_analysis()
    arguments, temporaries = memory.argument_size_in_bytes, memory.temp_size_in_bytes
    total = (arguments + memory.output_size_in_bytes - memory.alias_size_in_bytes + temporaries
             + memory.generated_code_size_in_bytes)
  else:
    batch_bytes = 3 * train_config.batch_size * length * 4 // sharding.batch_shard_count(mesh)
    arguments = sum(state_bytes) + batch_bytes
    temporaries = bytes_in_message(compiler_message)
    total = arguments + temporaries
  tokens = train_config.batch_size * length
  return StepPlan(
      topology=topology,
      chip=chip.name,
      chips=chips,
      mesh_shape=dict(mesh.shape),
      batch_size=train_config.batch_size,
      sequence_length=length,
      num_microbatches=train_config.num_microbatches,
      parameter_count=parameter_count(model_config),
      parameter_bytes=state_bytes[0],
      optimizer_bytes=state_bytes[1],
      argument_bytes=arguments,
      temporary_bytes=temporaries,
      total_bytes=total,
      hbm_bytes=chip.hbm_bytes,
      fits=compiled is not None and total <= chip.hbm_bytes,
      compiled_flops_loop_body_once=None if compiled is None else _flops(compiled),
      compiled_flops=compiled_flops,
      analytic_flops=analytic_step / chips,
      mfu=mfu,
      step_seconds=analytic_step / (chips * chip.peak_tflops * 1e12 * mfu),
      compile_seconds=time.perf_counter() - start,
      compiler_message=compiler_message,
      mesh_derived_from=mesh_derived_from,
      flop_probes=flop_probes,
      estimated_step_seconds=estimated_seconds,
      estimated_tokens_per_second_per_chip=(
          None if estimated_seconds is None else tokens / (chips * estimated_seconds)),
      estimated_mfu=(None if estimated_seconds is None else
                     analytic_step / (chips * chip.peak_tflops * 1e12 * estimated_seconds)),
      estimate_note=estimate_note,
      lora=dataclasses.asdict(train_config.lora) if train_config.lora.enabled else None,
      trainable_parameter_count=step.trainable_parameters,
  )


def bytes_in_message(message: str) -> int:
  """The size libtpu names in an out-of-memory message, e.g. "(306.13G)"; 0 if none."""
  match = re.search(r"\(([0-9.]+)([KMGT])\)", message)
  if not match:
    return 0
  return int(float(match.group(1)) * 1024 ** ("KMGT".index(match.group(2)) + 1))


def estimate_sweep(runs: list[RunPlan], train_config: TrainConfig, step_seconds: float,
                   chips: int) -> list[RunEstimate]:
  """Runs x steps x step time, per run. Counts training steps only: validation,
  evaluation, compilation and checkpoint writes come on top."""
  estimates = []
  for run in runs:
    examples = sum(run.train_counts.values())
    steps = train_config.total_steps(examples)  # packed rows hold more: an upper bound
    hours = steps * step_seconds / 3600
    estimates.append(RunEstimate(run.name, examples, steps, hours, hours * chips))
  return estimates
