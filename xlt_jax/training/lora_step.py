"""The train step with low-rank adapters: the base frozen, only adapters trained.

The training state's `params` are the adapters alone (`xlt_jax.models.lora.split`), so the
gradient, the optimizer state and the checkpoints hold adapter leaves only; the frozen
base enters every step as a separate, sharded, non-donated argument and is never
differentiated (XLA drops the base-weight products of the backward pass, whose results
nothing reads). The step itself is `train_step.train_step` (same loss, microbatching,
clipping and AdamW) run on a model view that places the adapters beside the base.

`build` jits once per model, adapters, optimizer and mesh; `bind(functions, base)` gives
the `ShardedFunctions` the trainer drives, with the base parameters bound in: as loaded,
or with `LoraConfig.base_dtype='int8'` quantised once on the devices (`int8_base`), the
full-precision copy then dropped, so the step reads int8 kernels and dequantises one layer
at a time.
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import int8_base, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import sharding
from xlt_jax.training.train_step import (
  MAX_REPLICATED_PARAMETER_BYTES,
  OptimizerConfig,
  ShardedFunctions,
  TrainState,
  learning_rate_schedule,
  make_optimizer,
  train_step,
  validation_step,
)


@dataclasses.dataclass(frozen=True)
class _AdaptedModel:
  """A stand-in for the Decoder in `train_step`: `apply({"params": adapters}, ...)` runs the
  adapted model on `base` + adapters, with adapter dropout drawn from `rng` (None: none)."""

  model: Decoder
  base: Any
  rng: jax.Array | None

  def apply(self, variables: dict, *args, rngs: dict | None = None, **kwargs):
    rngs = dict(rngs or {})  # the train step's own streams (residual dropout), if any
    if self.rng is not None:
      rngs[lora.RNG_NAME] = self.rng
    return self.model.apply({"params": lora.combine(self.base, variables["params"])}, *args,
                            rngs=rngs, **kwargs)


@dataclasses.dataclass
class LoraFunctions:
  """The jitted LoRA entry points; each takes the frozen base as its last argument."""

  init: Any  # rng -> TrainState over the adapters (the base is not needed to initialise them)
  train_step: Any  # (TrainState, batch, base) -> (TrainState, metrics)
  validation_step: Any  # (adapters, batch, base) -> (loss sum, weight sum)
  prepare_base: Any  # loaded base params (sharded as abstract_base) -> the base as held
  state_sharding: Any
  base_sharding: Any  # of the base as held (int8 kernels and their scales with base_dtype='int8')
  batch_sharding: Any
  abstract_state: Any
  abstract_base: Any  # shapes, dtypes and shardings of the base params (for loading them)


def _dummy_tokens():
  return jnp.zeros((1, 1), jnp.int32)


def abstract_params(model_config: ModelConfig, lora_config: lora.LoraConfig,
                    mesh: Mesh) -> tuple[Any, Any]:
  """(base, adapters): shapes, dtypes and NamedShardings (from the logical axis rules) of
  the adapted model's parameters, allocating nothing (for restores)."""
  boxed = jax.eval_shape(lambda: Decoder(model_config, lora_config).init(
      jax.random.key(0), _dummy_tokens()))["params"]
  shardings = sharding.logical_to_sharding(nn.get_partition_spec(boxed), mesh)
  abstract = jax.tree.map(
      lambda leaf, leaf_sharding: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                                       sharding=leaf_sharding),
      nn.unbox(boxed), shardings)
  return lora.split(abstract)


def build(model_config: ModelConfig, lora_config: lora.LoraConfig,
          optimizer_config: OptimizerConfig, mesh: Mesh, num_microbatches: int = 1,
          seed: int = 0, total_steps: int | None = None) -> LoraFunctions:
  """Jits init, train and validation steps of the adapted model over `mesh`.

  Adapter dropout (`lora_config.dropout`) draws a fresh mask per step from (seed, step);
  every microbatch of a step shares that step's key.

  Raises:
    UserInputError: `lora_config` has rank 0 (use `train_step.build`), or a base parameter
      over MAX_REPLICATED_PARAMETER_BYTES would be replicated.
  """
  if not lora_config.enabled:
    raise UserInputError("lora_step.build needs LoraConfig.rank > 0; rank 0 trains the whole"
                         " model with train_step.build")
  model = Decoder(model_config, lora_config)
  abstract_base, abstract_adapters = abstract_params(model_config, lora_config, mesh)
  loaded_sharding = jax.tree.map(lambda leaf: leaf.sharding, abstract_base)
  int8 = lora_config.base_dtype == "int8"
  held = int8_base.abstract_quantized(abstract_base) if int8 else abstract_base
  base_sharding = jax.tree.map(lambda leaf: leaf.sharding, held)
  adapter_sharding = jax.tree.map(lambda leaf: leaf.sharding, abstract_adapters)
  sharding.audit_replication(abstract_base, mesh, MAX_REPLICATED_PARAMETER_BYTES)
  optimizer = make_optimizer(optimizer_config, total_steps)  # total_steps: decaying schedules
  schedule = learning_rate_schedule(optimizer_config, total_steps)
  replicated = sharding.replicated(mesh)

  def init(rng):
    # Only the adapters are returned: XLA drops the base's initialisation.
    adapters = lora.split(nn.unbox(model.init(rng, _dummy_tokens())["params"]))[1]
    return TrainState(step=jnp.zeros((), jnp.int32), params=adapters,
                      opt_state=optimizer.init(adapters))

  abstract_state = jax.eval_shape(init, jax.random.key(0))
  opt_sharding = optax.tree_map_params(
      optimizer, lambda _, leaf_sharding: leaf_sharding, abstract_state.opt_state,
      adapter_sharding, transform_non_params=lambda _: replicated)
  state_sharding = TrainState(step=replicated, params=adapter_sharding, opt_state=opt_sharding)
  batch_sharding = sharding.batch_sharding(mesh)
  dropout_key = jax.random.key(seed)

  def step(state, batch, base):
    rng = jax.random.fold_in(dropout_key, state.step) if lora_config.dropout else None
    return train_step(state, batch, model=_AdaptedModel(model, base, rng), optimizer=optimizer,
                      schedule=schedule, num_microbatches=num_microbatches)

  def validate(adapters, batch, base):
    return validation_step(adapters, batch, model=_AdaptedModel(model, base, None))

  with_rules = functools.partial(sharding.with_rules, mesh=mesh)

  return LoraFunctions(
      init=with_rules(jax.jit(init, out_shardings=state_sharding)),
      train_step=with_rules(jax.jit(
          step, in_shardings=(state_sharding, batch_sharding, base_sharding),
          out_shardings=(state_sharding, replicated), donate_argnums=0)),
      validation_step=with_rules(jax.jit(
          validate, in_shardings=(adapter_sharding, batch_sharding, base_sharding),
          out_shardings=replicated)),
      prepare_base=jax.jit(int8_base.quantize_base, in_shardings=(loaded_sharding,),
                           out_shardings=base_sharding) if int8 else (lambda base: base),
      state_sharding=state_sharding,
      base_sharding=base_sharding,
      batch_sharding=batch_sharding,
      abstract_state=abstract_state,
      abstract_base=abstract_base,
  )


def bind(functions: LoraFunctions, base: Any) -> ShardedFunctions:
  """The trainer's `ShardedFunctions` over the adapters, with the frozen `base` params
  (as loaded, sharded as `functions.abstract_base`) bound in as `prepare_base` holds them.
  `init_from_params` is refused: the base is bound here and the adapters start from `init`."""
  base = functions.prepare_base(base)

  def init_from_params(_):
    raise UserInputError("with LoRA the base parameters are bound once (lora_step.bind);"
                         " the adapters start from init")

  return ShardedFunctions(
      init=functions.init,
      init_from_params=init_from_params,
      train_step=lambda state, batch: functions.train_step(state, batch, base),
      validation_step=lambda adapters, batch: functions.validation_step(adapters, batch, base),
      state_sharding=functions.state_sharding,
      batch_sharding=functions.batch_sharding,
      abstract_state=functions.abstract_state,
  )
