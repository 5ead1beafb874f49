"""A frozen base held in int8 under LoRA (P2: "base model loaded in 8-bit and frozen").

Each layer's projection kernel (query, key, value, out, gate, up, down) is stored as int8
with one float32 scale per output feature: symmetric absmax over the input features, the
row-wise ("vector-wise") weight quantisation of LLM.int8 (Dettmers et al. 2022, as
bitsandbytes' `Int8Params` stores a Linear weight: int8 rows, one absmax per output row).
The embedding, the untied output head and the norms stay in param_dtype (bitsandbytes'
8-bit loading also keeps `lm_head` out: `llm_int8_skip_modules`).

The scale sits beside its kernel as `<kernel>_int8_scale`; the decoder's `_kernel`
dequantises a kernel that has one, inside the scanned layer, so only one layer's kernel
exists in float at a time. Only the frozen base is quantised: gradients never reach it.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

SCALE_SUFFIX = "_int8_scale"
# (module under layers/, kernel) -> number of leading input axes of the (unstacked) kernel,
# as xlt_jax.models.hf_params maps Hugging Face weights onto them.
KERNEL_INPUT_AXES: dict[tuple[str, str], int] = {
    ("attention", "query"): 1, ("attention", "key"): 1, ("attention", "value"): 1,
    ("attention", "out"): 2, ("mlp", "gate"): 1, ("mlp", "up"): 1, ("mlp", "down"): 1,
}


def quantize(kernel: jax.Array, input_axes: int) -> tuple[jax.Array, jax.Array]:
  """(int8 kernel, float32 scale over the output axes) of a stacked kernel
  [layers, *inputs, *outputs]: round(W / s) with s = absmax over the inputs / 127, so
  |W - int8 * s| <= s / 2 everywhere."""
  reduce = tuple(range(1, 1 + input_axes))
  scale = jnp.max(jnp.abs(kernel.astype(jnp.float32)), axis=reduce) / 127.0
  scale = jnp.where(scale == 0, 1.0, scale)  # an all-zero row stays zero
  expanded = jnp.expand_dims(scale, reduce)
  quantized = jnp.clip(jnp.round(kernel.astype(jnp.float32) / expanded), -127, 127)
  return quantized.astype(jnp.int8), scale


def dequantize(kernel: jax.Array, scale: jax.Array, dtype: Any) -> jax.Array:
  """kernel [*inputs, *outputs] (int8) times its scale [*outputs], in `dtype`."""
  expanded = scale.reshape((1,) * (kernel.ndim - scale.ndim) + scale.shape)
  return (kernel.astype(jnp.float32) * expanded).astype(dtype)


def quantize_base(base: dict) -> dict:
  """The base params tree with every layer projection kernel as int8 plus its scale."""
  layers = {module: dict(values) for module, values in base["layers"].items()}
  for (module, kernel), input_axes in KERNEL_INPUT_AXES.items():
    layers[module][kernel], layers[module][kernel + SCALE_SUFFIX] = quantize(
        layers[module][kernel], input_axes)
  return {**base, "layers": layers}


def abstract_quantized(abstract_base: dict) -> dict:
  """`quantize_base` on shapes: int8 kernels sharded as before, and scales sharded like
  the kernels' output axes (leaves are jax.ShapeDtypeStruct with NamedShardings)."""
  layers = {module: dict(values) for module, values in abstract_base["layers"].items()}
  for (module, kernel), input_axes in KERNEL_INPUT_AXES.items():
    leaf = layers[module][kernel]
    spec = tuple(leaf.sharding.spec) + (None,) * (len(leaf.shape) - len(leaf.sharding.spec))
    scale_spec = PartitionSpec(spec[0], *spec[1 + input_axes:])
    layers[module][kernel] = jax.ShapeDtypeStruct(leaf.shape, jnp.int8, sharding=leaf.sharding)
    layers[module][kernel + SCALE_SUFFIX] = jax.ShapeDtypeStruct(
        (leaf.shape[0], *leaf.shape[1 + input_axes:]), jnp.float32,
        sharding=NamedSharding(leaf.sharding.mesh, scale_spec))
  return {**abstract_base, "layers": layers}


def dequantize_base(held: dict, dtype: Any = jnp.float32) -> dict:
  """The inverse view of `quantize_base`: every int8 kernel times its scale, in `dtype`,
  scales removed (the weights the adapted model computed with, for merging and export)."""
  layers = {module: dict(values) for module, values in held["layers"].items()}
  for (module, kernel), input_axes in KERNEL_INPUT_AXES.items():
    scale = layers[module].pop(kernel + SCALE_SUFFIX)
    scale = jnp.expand_dims(scale, tuple(range(1, 1 + input_axes)))  # [layers, 1.., *outputs]
    layers[module][kernel] = (layers[module][kernel].astype(jnp.float32) * scale).astype(dtype)
  return {**held, "layers": layers}
