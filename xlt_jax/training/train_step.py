"""The pure pieces of training: state, loss, one optimizer step, one validation step.

Nothing here does I/O or reads configuration; `xlt_jax.training.trainer` owns the loop.
"""

import dataclasses
import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import sharding


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """AdamW with a constant learning rate by default (P0 §3: constant 1e-5)."""

  learning_rate: float = 1e-5
  warmup_steps: int = 0
  b1: float = 0.9
  b2: float = 0.95
  weight_decay: float = 0.0
  gradient_clip_norm: float | None = 1.0


def learning_rate_schedule(config: OptimizerConfig) -> optax.Schedule:
  if config.warmup_steps:
    return optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)
  return optax.constant_schedule(config.learning_rate)


def make_optimizer(config: OptimizerConfig) -> optax.GradientTransformation:
  adamw = optax.adamw(
      learning_rate_schedule(config), b1=config.b1, b2=config.b2, weight_decay=config.weight_decay
  )
  if config.gradient_clip_norm is None:
    return adamw
  return optax.chain(optax.clip_by_global_norm(config.gradient_clip_norm), adamw)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def loss_and_weight(params, batch: dict[str, jax.Array], model: Decoder):
  """Summed token cross-entropy over loss-weighted positions, and the summed weight.

  Packed rows (batches with decoder_segment_ids and decoder_positions) attend
  within each example only and restart positions per example, so every example's
  loss is what it would be alone in an unpacked row.
  """
  logits_BLV, _ = model.apply(
      {"params": params}, batch["decoder_input_tokens"],
      positions_BL=batch.get("decoder_positions"),
      segment_ids_BL=batch.get("decoder_segment_ids"),
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
               num_microbatches: int = 1):
  """One AdamW step on the mean loss over the batch's target tokens.

  With num_microbatches > 1 the batch is processed in slices whose summed losses
  and gradients are divided by the whole batch's target-token count: the same
  update as one large batch, in the memory of one slice.
  """
  value_and_grad = jax.value_and_grad(
      lambda params, microbatch: loss_and_weight(params, microbatch, model), has_aux=True)
  if num_microbatches == 1:
    (total, weight), grad_sums = value_and_grad(state.params, batch)
  else:
    def accumulate(carry, microbatch):
      total, weight, grad_sums = carry
      (micro_total, micro_weight), micro_grads = value_and_grad(state.params, microbatch)
      grad_sums = jax.tree.map(jnp.add, grad_sums, micro_grads)
      return (total + micro_total, weight + micro_weight, grad_sums), None

    zeros = jax.tree.map(jnp.zeros_like, state.params)
    (total, weight, grad_sums), _ = jax.lax.scan(
        accumulate, (jnp.float32(0), jnp.float32(0), zeros),
        _microbatches(batch, num_microbatches))
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
          num_microbatches: int = 1):
  """Jits init/train/validation with NamedShardings over `mesh` (the only jit call site).

  Raises:
    UserInputError: a parameter over MAX_REPLICATED_PARAMETER_BYTES would be replicated.
  """
  model = Decoder(model_config)
  abstract = abstract_params(model, mesh)
  sharding.audit_replication(abstract, mesh, MAX_REPLICATED_PARAMETER_BYTES)
  optimizer = make_optimizer(optimizer_config)
  schedule = learning_rate_schedule(optimizer_config)
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

  def with_rules(function):
    @functools.wraps(function)
    def wrapped(*args):
      with jax.sharding.set_mesh(mesh), sharding.axis_rules():
        return function(*args)
    return wrapped

  return ShardedFunctions(
      init=with_rules(jax.jit(init, out_shardings=state_sharding)),
      init_from_params=with_rules(jax.jit(
          lambda params: TrainState(step=jnp.zeros((), jnp.int32), params=params,
                                    opt_state=optimizer.init(params)),
          in_shardings=(params_sharding,), out_shardings=state_sharding,
      )),
      train_step=with_rules(jax.jit(
          functools.partial(train_step, model=model, optimizer=optimizer, schedule=schedule,
                            num_microbatches=num_microbatches),
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
