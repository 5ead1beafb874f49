"""The jitted step functions of a run, shared between the runs of a study.

`shared_functions` / `shared_lora_functions` build `train_step.build` / `lora_step.build`
once per model, optimizer, mesh, microbatching, schedule length and dropout in a process,
so that a run whose batches have the shapes of an earlier run's starts without compiling;
`run_step_functions` picks the run's (with LoRA, with the frozen base loaded and bound in).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

from jax.sharding import Mesh

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xlt_jax.models.lora import LoraConfig
from xlt_jax.training import lora_step
from xlt_jax.training.train_step import OptimizerConfig, ShardedFunctions, build

if TYPE_CHECKING:
  from xlt_jax.training.trainer import TrainConfig


def load_initial_params(xlt_dir: str, model_config: ModelConfig, mesh: Mesh):
  """Parameters of a converted checkpoint, sharded for `mesh` (the optimizer starts fresh).

  Raises:
    UserInputError: the checkpoint's architecture differs from `model_config`
      (naming the fields), or a parameter has another shape.
  """
  from xlt_jax.models import conversion
  from xlt_jax.models.decoder import Decoder
  from xlt_jax.training.train_step import abstract_params

  saved_config, params, _ = conversion.load_xlt(xlt_dir, abstract_params(Decoder(model_config), mesh))
  differing = [field.name for field in dataclasses.fields(ModelConfig)
               if field.name not in RUNTIME_FIELDS
               and getattr(saved_config, field.name) != getattr(model_config, field.name)]
  if differing:
    raise UserInputError(
        f"initial checkpoint {xlt_dir} is a different model: "
        + ", ".join(f"{name}={getattr(saved_config, name)!r} (gin: {getattr(model_config, name)!r})"
                    for name in differing))
  return params



@functools.lru_cache(maxsize=8)
def shared_functions(model_config: ModelConfig, optimizer_config: OptimizerConfig, mesh: Mesh,
                     num_microbatches: int, total_steps: int | None = None,
                     dropout_rate: float = 0.0, dropout_seed: int = 0,
                     attention_dropout_rate: float = 0.0) -> ShardedFunctions:
  """`train_step.build`, once per model, optimizer, mesh, microbatching, schedule length
  and dropout in this process (pass total_steps only where the schedule needs it, so that
  runs of other lengths share the step).

  The runs of a study share the jitted functions and with them every executable compiled
  so far: jax.jit compiles once per argument shape and sharding, so a run whose batches
  have the shapes of an earlier run's starts without compiling. Sharing is safe because
  the functions are pure: they close over the frozen configs, the stateless flax module
  and optax transformations, and read or write nothing else.
  """
  return build(model_config, optimizer_config, mesh, num_microbatches, total_steps=total_steps,
               dropout_rate=dropout_rate, dropout_seed=dropout_seed,
               attention_dropout_rate=attention_dropout_rate)


@functools.lru_cache(maxsize=8)
def shared_lora_functions(model_config: ModelConfig, lora_config: LoraConfig,
                          optimizer_config: OptimizerConfig, mesh: Mesh, num_microbatches: int,
                          seed: int, total_steps: int | None = None) -> lora_step.LoraFunctions:
  """`lora_step.build`, shared between runs like `shared_functions`."""
  return lora_step.build(model_config, lora_config, optimizer_config, mesh, num_microbatches,
                         seed, total_steps=total_steps)


def check_lora_dropout(train_config: TrainConfig) -> None:
  """Raises UserInputError for residual or attention dropout with LoRA (the frozen base
  takes none)."""
  if not train_config.lora.enabled:
    return
  for name in ("dropout_rate", "attention_dropout_rate"):
    if getattr(train_config, name):
      raise UserInputError(
          f"TrainConfig.{name}={getattr(train_config, name)} with LoRA: the frozen base takes"
          f" no dropout; set LoraConfig.dropout (P2: 0.05) and TrainConfig.{name}=0")


def run_step_functions(model_config: ModelConfig, optimizer_config: OptimizerConfig,
                    train_config: TrainConfig, mesh: Mesh,
                    total_steps: int | None) -> ShardedFunctions:
  """The run's jitted functions: the whole model's, or with LoRA the adapters' with the
  frozen base (the initial checkpoint) loaded and bound in. `total_steps`: the run's
  length, for a decaying learning-rate schedule (None for a constant one).

  Raises:
    UserInputError: LoRA without an initial checkpoint to adapt, or with residual dropout
      (LoRA's own dropout is LoraConfig.dropout).
  """
  lora = train_config.lora
  if not lora.enabled:
    return shared_functions(model_config, optimizer_config, mesh, train_config.num_microbatches,
                            total_steps, train_config.dropout_rate, train_config.seed,
                            train_config.attention_dropout_rate)
  if not train_config.initial_checkpoint:
    raise UserInputError(
        f"TrainConfig.lora.rank={lora.rank} adapts a pretrained base, but none is given: set"
        " Experiment.base_checkpoint (or TrainConfig.initial_checkpoint), or rank 0 to train"
        " the whole model")
  check_lora_dropout(train_config)
  functions = shared_lora_functions(model_config, lora, optimizer_config, mesh,
                                    train_config.num_microbatches, train_config.seed,
                                    total_steps)
  # The plain model's parameters are the adapted model's base, sharded by the same rules.
  base = load_initial_params(train_config.initial_checkpoint, model_config, mesh)
  return lora_step.bind(functions, base)
