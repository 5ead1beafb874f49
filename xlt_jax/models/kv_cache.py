"""The KV cache decoding reads and writes, and the layer parameters of the decoder's
unrolled form that CPU decoding uses (`Decoder.unrolled_layers`)."""

from typing import Any

import flax
import jax
import jax.numpy as jnp

from xlt_jax.models.config import ModelConfig


@flax.struct.dataclass
class KVCache:
  """Keys and values of every layer for decoding, filled left to right.

  keys, values: [layers, B, K, S, H] for a model with scanned layers, or a tuple of one
  [B, K, S, H] array per layer for one with `unrolled_layers`; valid_BS marks the filled
  slots that hold real (non-padding) tokens.
  - Layers come first so that the scan over layers reads and writes each layer's slice
    where it lies: with layers second every call transposed the whole cache in and out
    (Aya 23 35B decoding batch 64 x 2048 on v5e-256, measured by `xlt_jax.plan`: 15.7 GiB
    of temporaries per chip with layers second, 7.9 GiB with layers first).
  - Heads come before slots, the layout the attention products read, so no call
    transposes a layer's cache (XLA's CPU backend copied keys and values that way twice
    a layer a token).
  - Keys and values are separate arrays, and with unrolled layers each layer's are:
    XLA's CPU backend copied every slice of a stacked cache it read or wrote inside the
    decoding loop, three copies of the whole cache a token.
  """

  keys: Any
  values: Any
  valid: jax.Array

  @classmethod
  def zeros(cls, config: ModelConfig, batch_size: int, length: int,
            per_layer: bool = False) -> "KVCache":
    """An empty cache; `per_layer` for a model with `unrolled_layers`."""
    layer_shape = (batch_size, config.num_kv_heads, length, config.head_dim)
    if per_layer:
      keys, values = (tuple(jnp.zeros(layer_shape, config.dtype) for _ in range(config.num_layers))
                      for _ in range(2))
    else:
      keys, values = (jnp.zeros((config.num_layers, *layer_shape), config.dtype)
                      for _ in range(2))
    return cls(keys=keys, values=values, valid=jnp.zeros((batch_size, length), bool))


def unstack_layers(params: dict, num_layers: int) -> dict:
  """Parameters of a model with scanned layers (stacked under "layers") as those of the
  same model with `unrolled_layers` (one "layer_<i>" entry per layer). Everything else,
  adapters and int8 scales included, is passed through or sliced alike."""
  params = dict(params)
  stacked = params.pop("layers")
  for index in range(num_layers):
    params[f"layer_{index}"] = jax.tree_util.tree_map(lambda x, i=index: x[i], stacked)
  return params
