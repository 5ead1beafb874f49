"""The pure pieces of training: state, loss, one optimizer step, one validation step.

Nothing here does I/O or reads configuration; `xlt_jax.training.trainer` owns the loop.
"""

import dataclasses
import functools
import math
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import sharding

SCHEDULES = ("constant", "cosine", "linear")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """AdamW and its learning-rate schedule; by default a constant rate (P0 §3: constant 1e-5).

  schedule:
    "constant": the rate after `warmup_steps` of linear warmup from 0 (P0, P1: a fixed rate).
    "cosine": linear warmup from 0, then cosine decay to 0 at the run's last step
      (P4: 3% warmup, `warmup_fraction=0.03`), as transformers'
      get_cosine_schedule_with_warmup.
    "linear": linear warmup, then linear decay to 0 at the last step, as transformers'
      get_linear_schedule_with_warmup (the default lr_scheduler_type of the Hugging Face
      Trainer and of TRL, which P3 trained with without naming a schedule).
  The warmup lasts `warmup_steps`, or ceil(warmup_fraction x the run's steps) as
  transformers' TrainingArguments.get_warmup_steps counts a ratio.

  weight_decay is AdamW's decoupled decay; with `decay_norms_and_biases=False` (the
  default) it skips norm scales and biases, as the Hugging Face Trainer does
  (Trainer.get_decay_parameter_names in transformers 5.24: no decay for names matching
  bias, layernorm, rmsnorm or norm; embeddings and every projection are decayed).
  """

  learning_rate: float = 1e-5
  warmup_steps: int = 0
  b1: float = 0.9
  b2: float = 0.95
  weight_decay: float = 0.0
  gradient_clip_norm: float | None = 1.0
  schedule: str = "constant"  # one of SCHEDULES
  warmup_fraction: float = 0.0  # of the run's steps (rounded up); exclusive with warmup_steps
  decay_norms_and_biases: bool = False

  def __post_init__(self):
    if self.schedule not in SCHEDULES:
      raise UserInputError(f"unknown OptimizerConfig.schedule {self.schedule!r}; choose one of"
                           f" {', '.join(SCHEDULES)}")
    if not 0 <= self.warmup_fraction < 1:
      raise UserInputError(f"OptimizerConfig.warmup_fraction {self.warmup_fraction} must be in"
                           " [0, 1)")
    if self.warmup_fraction and self.warmup_steps:
      raise UserInputError("set OptimizerConfig.warmup_steps or warmup_fraction, not both")

  @property
  def needs_run_length(self) -> bool:
    """Whether the schedule depends on the run's number of steps."""
    return self.schedule != "constant" or bool(self.warmup_fraction)

  def warmup(self, total_steps: int) -> int:
    """Warmup steps of a run of total_steps steps."""
    return self.warmup_steps or math.ceil(self.warmup_fraction * total_steps)


def learning_rate_schedule(config: OptimizerConfig, total_steps: int | None = None) -> optax.Schedule:
  """The rate of the update at step t (0-based, as optax counts), for a run of total_steps
  steps; decaying schedules need total_steps, constant ones ignore it.

  Raises:
    UserInputError: a decaying schedule without total_steps, or warmup past its end.
  """
  if config.needs_run_length and total_steps is None:
    raise UserInputError(f"the {config.schedule} schedule (warmup_fraction"
                         f" {config.warmup_fraction}) needs the run's number of steps")
  warmup = config.warmup(total_steps or 0)
  if config.schedule == "constant":
    if warmup:
      return optax.linear_schedule(0.0, config.learning_rate, warmup)
    return optax.constant_schedule(config.learning_rate)
  if warmup >= total_steps:
    raise UserInputError(f"{warmup} warmup steps leave nothing of a {total_steps}-step"
                         f" {config.schedule} schedule")
  if config.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup, total_steps)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, config.learning_rate, warmup),
       optax.linear_schedule(config.learning_rate, 0.0, total_steps - warmup)], [warmup])


def _is_norm_or_bias(path) -> bool:
  """The Hugging Face Trainer's no-decay rule on a parameter's path: norm scales
  (modules named *norm*) and biases."""
  names = [str(getattr(key, "key", key)).lower() for key in path]
  return any("norm" in name or name == "bias" for name in names)


def weight_decay_mask(params):
  """True for every parameter AdamW decays: all but norm scales and biases."""
  return jax.tree_util.tree_map_with_path(lambda path, _: not _is_norm_or_bias(path), params)


def make_optimizer(config: OptimizerConfig,
                   total_steps: int | None = None) -> optax.GradientTransformation:
  # Without decay no mask is passed: the optimizer state keeps the structure (and the
  # checkpoints) it had before masks existed.
  mask = None
  if config.weight_decay and not config.decay_norms_and_biases:
    mask = weight_decay_mask
  adamw = optax.adamw(learning_rate_schedule(config, total_steps), b1=config.b1, b2=config.b2,
                      weight_decay=config.weight_decay, mask=mask)
  if config.gradient_clip_norm is None:
    return adamw
  return optax.chain(optax.clip_by_global_norm(config.gradient_clip_norm), adamw)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def loss_and_weight(params, batch: dict[str, jax.Array], model: Decoder,
                    dropout_rng: jax.Array | None = None):
  """Summed token cross-entropy over loss-weighted positions, and the summed weight.

  Packed rows (batches with decoder_segment_ids and decoder_positions) attend
  within each example only and restart positions per example, so every example's
  loss is what it would be alone in an unpacked row. A model with dropout needs
  `dropout_rng`; without one (validation) it runs deterministically.
  """
  logits_BLV, _ = model.apply(
      {"params": params}, batch["decoder_input_tokens"],
      positions_BL=batch.get("decoder_positions"),
      segment_ids_BL=batch.get("decoder_segment_ids"),
      rngs=None if dropout_rng is None else {"dropout": dropout_rng},
  )
  losses_BL = optax.softmax_cross_entropy_with_integer_labels(
      logits_BLV, batch["decoder_target_tokens"]
  )
  weights_BL = batch["decoder_loss_weights"].astype(jnp.float32)
  return jnp.sum(losses_BL * weights_BL), jnp.sum(weights_BL)


def _microbatches(batch: dict, num_microbatches: int) -> dict:
  """[B, ...] -> [num_microbatches, B / num_microbatches, ...], microbatch i = rows i::n,
  so every microbatch keeps rows from every data-parallel shard."""

  def split(x):
    if x.shape[0] % num_microbatches:
      raise ValueError(f"batch of {x.shape[0]} rows is not divisible into {num_microbatches}"
                       " microbatches")
    return jnp.swapaxes(x.reshape(x.shape[0] // num_microbatches, num_microbatches,
                                  *x.shape[1:]), 0, 1)

  return jax.tree.map(split, batch)


def train_step(state: TrainState, batch, *, model: Decoder, optimizer, schedule,
               num_microbatches: int = 1, dropout_seed: int | None = None):
  """One AdamW step on the mean loss over the batch's target tokens.

  With num_microbatches > 1 the batch is processed in slices whose summed losses
  and gradients are divided by the whole batch's target-token count: the same
  update as one large batch, in the memory of one slice. With `dropout_seed` (a
  model with dropout) each step's dropout masks come from (seed, step, microbatch)
  alone, so a resumed run draws the masks an uninterrupted one would have.
  """
  def step_rng(microbatch_index):
    if dropout_seed is None:
      return None
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(dropout_seed), state.step),
                              microbatch_index)

  value_and_grad = jax.value_and_grad(
      lambda params, microbatch, rng: loss_and_weight(params, microbatch, model, rng),
      has_aux=True)
  if num_microbatches == 1:
    (total, weight), grad_sums = value_and_grad(state.params, batch, step_rng(0))
  else:
    def accumulate(carry, indexed_microbatch):
      total, weight, grad_sums = carry
      index, microbatch = indexed_microbatch
      (micro_total, micro_weight), micro_grads = value_and_grad(state.params, microbatch,
                                                                step_rng(index))
      grad_sums = jax.tree.map(jnp.add, grad_sums, micro_grads)
      return (total + micro_total, weight + micro_weight, grad_sums), None

    zeros = jax.tree.map(jnp.zeros_like, state.params)
    (total, weight, grad_sums), _ = jax.lax.scan(
        accumulate, (jnp.float32(0), jnp.float32(0), zeros),
        (jnp.arange(num_microbatches), _microbatches(batch, num_microbatches)))
  denominator = jnp.maximum(weight, 1.0)
  grads = jax.tree.map(lambda g: g / denominator, grad_sums)
  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {
      "loss": total / denominator,
      "target_tokens": weight,
      "grad_norm": optax.global_norm(grads),
      "learning_rate": schedule(state.step),
  }
  return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


def validation_step(params, batch, *, model: Decoder):
  """(summed loss, summed weight) of one batch; the caller averages over batches."""
  return loss_and_weight(params, batch, model)


@dataclasses.dataclass
class ShardedFunctions:
  """The jitted, sharded entry points for one model, optimizer and mesh."""

  init: Any  # rng -> TrainState
  init_from_params: Any  # params -> TrainState with a fresh optimizer state
  train_step: Any  # (TrainState, batch) -> (TrainState, metrics)
  validation_step: Any  # (params, batch) -> (loss sum, weight sum)
  state_sharding: Any
  batch_sharding: Any
  abstract_state: Any


def _dummy_tokens():
  return jnp.zeros((1, 1), jnp.int32)


def parameter_sharding(model: Decoder, mesh: Mesh):
  """NamedShardings of the parameters, from the logical axis names in the model."""
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), _dummy_tokens()))
  return sharding.logical_to_sharding(nn.get_partition_spec(abstract)["params"], mesh)


def abstract_params(model: Decoder, mesh: Mesh):
  """Shapes, dtypes and shardings of the parameters, allocating nothing (for restores)."""
  boxed = jax.eval_shape(lambda: model.init(jax.random.key(0), _dummy_tokens()))["params"]
  return jax.tree.map(
      lambda shape, leaf_sharding: jax.ShapeDtypeStruct(
          shape.shape, shape.dtype, sharding=leaf_sharding
      ),
      nn.unbox(boxed),
      parameter_sharding(model, mesh),
  )


# Parameters above this size may not be replicated on a multi-device mesh.
MAX_REPLICATED_PARAMETER_BYTES = 256 << 20


def build(model_config: ModelConfig, optimizer_config: OptimizerConfig, mesh: Mesh,
          num_microbatches: int = 1, *, total_steps: int | None = None,
          dropout_rate: float = 0.0, dropout_seed: int = 0,
          attention_dropout_rate: float = 0.0):
  """Jits init/train/validation with NamedShardings over `mesh` (the only jit call site).

  total_steps is the run's length, which decaying schedules need. With dropout_rate or
  attention_dropout_rate > 0 the train step applies dropout (`Decoder.dropout_rate`,
  `Decoder.attention_dropout_rate`) with masks seeded by dropout_seed; validation always
  runs the model deterministically.

  Raises:
    UserInputError: a parameter over MAX_REPLICATED_PARAMETER_BYTES would be replicated,
      or the schedule does not fit total_steps.
  """
  model = Decoder(model_config)
  abstract = abstract_params(model, mesh)
  sharding.audit_replication(abstract, mesh, MAX_REPLICATED_PARAMETER_BYTES)
  optimizer = make_optimizer(optimizer_config, total_steps)
  schedule = learning_rate_schedule(optimizer_config, total_steps)
  # Same parameters as `model` (dropout has none); used by the train step only.
  dropout = bool(dropout_rate or attention_dropout_rate)
  train_model = Decoder(model_config, dropout_rate=dropout_rate,
                        attention_dropout_rate=attention_dropout_rate) if dropout else model
  params_sharding = jax.tree.map(lambda leaf: leaf.sharding, abstract)
  replicated = sharding.replicated(mesh)

  def init(rng):
    params = nn.unbox(model.init(rng, _dummy_tokens())["params"])
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params))

  abstract_state = jax.eval_shape(init, jax.random.key(0))
  opt_sharding = optax.tree_map_params(
      optimizer,
      lambda _, param_sharding: param_sharding,
      abstract_state.opt_state,
      params_sharding,
      transform_non_params=lambda _: replicated,
  )
  state_sharding = TrainState(step=replicated, params=params_sharding, opt_state=opt_sharding)
  batch_sharding = sharding.batch_sharding(mesh)

  with_rules = functools.partial(sharding.with_rules, mesh=mesh)

  return ShardedFunctions(
      init=with_rules(jax.jit(init, out_shardings=state_sharding)),
      init_from_params=with_rules(jax.jit(
          lambda params: TrainState(step=jnp.zeros((), jnp.int32), params=params,
                                    opt_state=optimizer.init(params)),
          in_shardings=(params_sharding,), out_shardings=state_sharding,
      )),
      train_step=with_rules(jax.jit(
          functools.partial(train_step, model=train_model, optimizer=optimizer, schedule=schedule,
                            num_microbatches=num_microbatches,
                            dropout_seed=dropout_seed if dropout else None),
          in_shardings=(state_sharding, batch_sharding),
          out_shardings=(state_sharding, replicated),
          donate_argnums=0,
      )),
      validation_step=with_rules(jax.jit(
          functools.partial(validation_step, model=model),
          in_shardings=(params_sharding, batch_sharding),
          out_shardings=replicated,
      )),
      state_sharding=state_sharding,
      batch_sharding=batch_sharding,
      abstract_state=abstract_state,
  )


def global_batch(batch: dict, batch_sharding) -> dict[str, jax.Array]:
  """Assembles this host's rows into global arrays sharded along the batch."""
  return {
      key: jax.make_array_from_process_local_data(batch_sharding, value)
      for key, value in batch.items()
  }
