"""Low-rank adapters (LoRA, Hu et al. 2021) on the decoder's projections, as PEFT defines them.

A targeted projection W (Hugging Face module name, e.g. "q_proj") computes
`W x + (alpha / rank) * B (A dropout(x))`, with A initialised like PEFT's
(`kaiming_uniform_(a=sqrt(5))`: uniform in +-1/sqrt(fan_in)) and B zeros, so a fresh adapter
leaves the model unchanged. The adapter lives next to its kernel in the params tree, as
`<kernel>_lora/{a, b}` (e.g. `layers/attention/query_lora/a`), stacked over layers by the
scan like every layer parameter, and annotated with the kernel's logical axes plus
`lora_rank`, so `xlt_jax.training.sharding` shards it by the same rules.

Dropout on the adapter's input is applied only when the caller passes a `lora_dropout`
rng to `Decoder.apply` (the LoRA train step does; validation and decoding do not).

Targets use Hugging Face's module names so that a `LoraConfig` means the same here and in
PEFT's `LoraConfig(target_modules=...)` (peft/tuners/lora/config.py; scaling
`lora_alpha / r` in peft/tuners/lora/layer.py `update_layer`, `use_rslora=False`).
"""

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.projection import mixed_precision_dot

# Hugging Face module name -> (our module under a layer, our kernel name).
TARGETS: dict[str, tuple[str, str]] = {
    "q_proj": ("attention", "query"),
    "k_proj": ("attention", "key"),
    "v_proj": ("attention", "value"),
    "o_proj": ("attention", "out"),
    "gate_proj": ("mlp", "gate"),
    "up_proj": ("mlp", "up"),
    "down_proj": ("mlp", "down"),
}
ADAPTER_SUFFIX = "_lora"  # params key of the adapter of kernel K: K + ADAPTER_SUFFIX
RNG_NAME = "lora_dropout"  # the rng stream of the adapters' dropout


@dataclasses.dataclass(frozen=True)
class LoraConfig:
  """Low-rank adapters; rank 0 means full fine-tuning (no adapters, the base trains).

  With rank > 0 the base parameters are frozen: only adapters are in the gradient and the
  optimizer state. P2: rank 8, alpha 16, dropout 0.05 on q, k, v; P3: rank 64, alpha 16.
  """

  rank: int = 0
  alpha: float = 16.0
  dropout: float = 0.0
  targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")  # Hugging Face module names
  # How the frozen base is held: None keeps the model's param_dtype; "int8" (P2) stores each
  # layer's projection kernels as int8 with a scale per output feature (models/int8_base.py).
  base_dtype: str | None = None

  def __post_init__(self):
    if self.rank < 0:
      raise UserInputError(f"LoraConfig.rank must be >= 0 (0: no adapters), not {self.rank}")
    if not 0.0 <= self.dropout < 1.0:
      raise UserInputError(f"LoraConfig.dropout must be in [0, 1), not {self.dropout}")
    if self.base_dtype not in (None, "int8"):
      raise UserInputError(f"unknown LoraConfig.base_dtype {self.base_dtype!r}; None keeps the"
                           " model's param_dtype, 'int8' quantises the frozen base")
    if self.base_dtype == "int8" and not self.rank:
      raise UserInputError("LoraConfig.base_dtype='int8' freezes the base, which needs"
                           " adapters to train: set LoraConfig.rank > 0")
    if self.rank and not self.targets:
      raise UserInputError("LoraConfig.targets is empty: name the modules to adapt, e.g."
                           " ('q_proj', 'k_proj', 'v_proj')")
    unknown = [target for target in self.targets if target not in TARGETS]
    if unknown:
      raise UserInputError(f"LoraConfig.targets: {unknown[0]!r} names no module of the model;"
                           f" choose from {', '.join(TARGETS)}")
    if len(set(self.targets)) != len(self.targets):
      raise UserInputError(f"LoraConfig.targets names a module twice: {self.targets}")

  @property
  def enabled(self) -> bool:
    return self.rank > 0

  @property
  def scaling(self) -> float:
    """PEFT's `lora_alpha / r` (without rsLoRA)."""
    return self.alpha / self.rank

  def adapts(self, module: str, kernel: str) -> bool:
    """Whether the kernel `kernel` of a layer's `module` ("attention", "mlp") has an adapter."""
    return self.enabled and any(TARGETS[target] == (module, kernel) for target in self.targets)


def from_record(record: dict | None) -> LoraConfig:
  """The LoraConfig of a JSON record (`dataclasses.asdict`, as run.json stores it; lists
  back to tuples); None or {} (a run from before LoRA) is rank 0."""
  return LoraConfig(**{key: tuple(value) if isinstance(value, list) else value
                       for key, value in (record or {}).items()})


class Adapter(nn.Module):
  """The low-rank path of one projection: x [..., *in_shape] -> [..., *out_shape].

  Returns `scaling * B(A(dropout(x)))` in x's dtype, with float32 accumulation.
  """

  lora: LoraConfig
  in_shape: tuple[int, ...]
  out_shape: tuple[int, ...]
  in_axes: tuple[str, ...]  # logical axis names of the kernel's input part
  out_axes: tuple[str, ...]  # and of its output part
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    rank, n_in = self.lora.rank, len(self.in_shape)
    # PEFT: kaiming_uniform_(a=sqrt(5)) on [r, fan_in], i.e. uniform in +-1/sqrt(fan_in).
    init_a = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform",
                                              in_axis=tuple(range(n_in)), out_axis=n_in)
    a = self.param("a", nn.with_logical_partitioning(init_a, (*self.in_axes, "lora_rank")),
                   (*self.in_shape, rank), self.param_dtype)
    b = self.param("b", nn.with_logical_partitioning(nn.initializers.zeros,
                                                     ("lora_rank", *self.out_axes)),
                   (rank, *self.out_shape), self.param_dtype)
    if self.lora.dropout and self.has_rng(RNG_NAME):
      keep = 1.0 - self.lora.dropout
      mask = jax.random.bernoulli(self.make_rng(RNG_NAME), keep, x.shape)
      x = jnp.where(mask, x / keep, 0).astype(x.dtype)
    # The decoder's own product: plain autodiff of dot_general made XLA CPU transpose the
    # adapters' gradients, and a LoRA step of the demo's model took 2.2 times a full one.
    x_axes = tuple(range(x.ndim - n_in, x.ndim))
    low = mixed_precision_dot(x, a, x_axes, tuple(range(n_in)), x.dtype)
    out = mixed_precision_dot(low, b, (low.ndim - 1,), (0,), jnp.float32)
    return (out * self.lora.scaling).astype(x.dtype)


def is_adapter_path(path: tuple) -> bool:
  """Whether a params tree path (of jax tree keys or strings) lies inside an adapter."""
  return any(str(getattr(key, "key", key)).endswith(ADAPTER_SUFFIX) for key in path)


def split(params: dict) -> tuple[dict, dict]:
  """(base, adapters): the params tree without its adapters, and the adapters alone (same
  nesting). `combine(base, adapters)` gives the tree back."""
  base, adapters = {}, {}
  for key, value in params.items():
    if key.endswith(ADAPTER_SUFFIX):
      adapters[key] = value
    elif isinstance(value, dict):
      sub_base, sub_adapters = split(value)
      base[key] = sub_base
      if sub_adapters:
        adapters[key] = sub_adapters
    else:
      base[key] = value
  return base, adapters


def combine(base: dict, adapters: dict) -> dict:
  """The params tree of the adapted model: `base` with `adapters` placed beside their kernels."""
  combined = dict(base)
  for key, value in adapters.items():
    combined[key] = combine(base[key], value) if key in base else value
  return combined


def _adapter_items(lora: LoraConfig):
  for target in lora.targets:
    module, kernel = TARGETS[target]
    yield target, module, kernel


def merge(params: dict, lora: LoraConfig) -> dict:
  """The base params with every adapter folded in: W + (alpha / rank) * A @ B, computed in
  float32 and stored in W's dtype; the result has no adapters (any exporter takes it)."""
  base, adapters = split(params)
  if not lora.enabled:
    return base
  layers = {module: dict(values) for module, values in base["layers"].items()}
  for _, module, kernel in _adapter_items(lora):
    adapter = adapters["layers"][module][kernel + ADAPTER_SUFFIX]
    a, b = jnp.asarray(adapter["a"], jnp.float32), jnp.asarray(adapter["b"], jnp.float32)
    weight = layers[module][kernel]
    # a: [layers, *in, r], b: [layers, r, *out] -> delta [layers, *in, *out]
    delta = jnp.einsum("lir,lro->lio", a.reshape(a.shape[0], -1, a.shape[-1]),
                       b.reshape(b.shape[0], b.shape[1], -1)).reshape(weight.shape)
    layers[module][kernel] = (jnp.asarray(weight, jnp.float32)
                              + lora.scaling * delta).astype(weight.dtype)
  return {**base, "layers": layers}


def peft_tensors(adapters: dict, lora: LoraConfig, num_layers: int):
  """Yields (PEFT tensor name, array) for every adapter matrix, in PEFT's saved layout:
  `base_model.model.model.layers.<i>.<self_attn|mlp>.<target>.lora_A.weight` [r, in_features]
  and `...lora_B.weight` [out_features, r] (the names `PeftModel.save_pretrained` writes for a
  Llama-style model, adapter name removed; checked against PEFT in tests/test_lora.py)."""
  import numpy as np

  hf_module = {"attention": "self_attn", "mlp": "mlp"}
  for target, module, kernel in _adapter_items(lora):
    adapter = adapters["layers"][module][kernel + ADAPTER_SUFFIX]
    a, b = np.asarray(adapter["a"]), np.asarray(adapter["b"])
    for layer in range(num_layers):
      prefix = f"base_model.model.model.layers.{layer}.{hf_module[module]}.{target}"
      # Our A is [*in, r] flattened in the order Hugging Face flattens the input features
      # (hf_params maps kernels by the same reshape), and B is [r, *out].
      yield f"{prefix}.lora_A.weight", np.ascontiguousarray(a[layer].reshape(-1, lora.rank).T)
      yield f"{prefix}.lora_B.weight", np.ascontiguousarray(
          b[layer].reshape(lora.rank, -1).T)


def peft_config(lora: LoraConfig, base_model_name_or_path: str | None) -> dict:
  """adapter_config.json for PEFT's `LoraConfig` (field names from peft/tuners/lora/config.py)."""
  return {
      "peft_type": "LORA",
      "task_type": "CAUSAL_LM",
      "base_model_name_or_path": base_model_name_or_path,
      "r": lora.rank,
      "lora_alpha": lora.alpha,
      "lora_dropout": lora.dropout,
      "target_modules": sorted(lora.targets),
      "bias": "none",
      "fan_in_fan_out": False,
      "use_rslora": False,
      "use_dora": False,
      "init_lora_weights": True,
      "inference_mode": True,
      "modules_to_save": None,
  }


def count(adapters: dict) -> int:
  """Number of adapter parameters."""
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(adapters))
