"""A decoder-only transformer (RMSNorm, RoPE, SwiGLU, grouped-query attention) in Flax.

Every parameter and activation carries logical axis names; `xlt_jax.training.sharding`
maps them onto mesh axes, so this file never names a mesh axis. Layers are
scanned: one compiled layer body whatever the depth (or, for decoding on CPU, unrolled:
`Decoder.unrolled_layers`).

Shape letters used in variable names:
  B batch, L length (queries), S key/cache length, D embed, F mlp, N query heads,
  K key/value heads, G query heads per key/value head (N / K), H head dim, V vocab.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import attention, int8_base, rope
from xlt_jax.models.attention import dot_product_attention
from xlt_jax.models.config import REMAT_POLICIES, ModelConfig
from xlt_jax.models.kv_cache import KVCache
from xlt_jax.models.lora import RNG_NAME as LORA_RNG
from xlt_jax.models.lora import Adapter, LoraConfig
from xlt_jax.models.projection import project


def _param(init: Any, axes: tuple[str, ...]) -> Any:
  return nn.with_logical_partitioning(init, axes)


class Norm(nn.Module):
  """RMSNorm, or LayerNorm (with a bias where config.norm_bias), over the last axis,
  computed in float32."""

  config: ModelConfig
  axis_name: str = "embed"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    config = self.config
    init = nn.initializers.zeros if config.norm_scale_plus_one else nn.initializers.ones
    scale = self.param("scale", _param(init, (self.axis_name,)), (x.shape[-1],),
                       config.param_dtype).astype(jnp.float32)
    y = x.astype(jnp.float32)
    if config.norm_type == "layer":
      y = y - jnp.mean(y, axis=-1, keepdims=True)
    y = y * jax.lax.rsqrt(jnp.mean(y * y, axis=-1, keepdims=True) + config.norm_epsilon)
    y = y * (1.0 + scale if config.norm_scale_plus_one else scale)
    if config.norm_bias:
      y = y + self.param("bias", _param(nn.initializers.zeros, (self.axis_name,)),
                         (x.shape[-1],), config.param_dtype).astype(jnp.float32)
    return y.astype(x.dtype)


def _kernel(module: nn.Module, name: str, shape: tuple[int, ...], axes: tuple[str, ...],
            config: ModelConfig, fan_in_axes: int = 1) -> jax.Array:
  """A projection kernel of the given shape, initialised with variance 1/fan_in, in
  param_dtype: `projection.project` rounds it to the compute dtype inside its product, so that
  its gradient comes back in param_dtype without a rounding to the compute dtype.
  A kernel given in int8 with a scale beside it (a frozen LoRA base, `int8_base`) is
  dequantised here, inside the layer."""
  init = nn.initializers.variance_scaling(
      1.0, "fan_in", "truncated_normal", in_axis=tuple(range(fan_in_axes)),
      out_axis=tuple(range(fan_in_axes, len(shape))),
  )
  kernel = module.param(name, _param(init, axes), shape, config.param_dtype)
  if module.has_variable("params", name + int8_base.SCALE_SUFFIX):
    scale = module.get_variable("params", name + int8_base.SCALE_SUFFIX)
    kernel = int8_base.dequantize(kernel, scale, config.param_dtype)
  return kernel


def _adapted(module: nn.Module, lora: LoraConfig | None, name: str, x: jax.Array, y: jax.Array,
             in_shape: tuple[int, ...], out_shape: tuple[int, ...], in_axes: tuple[str, ...],
             out_axes: tuple[str, ...]) -> jax.Array:
  """y, plus the low-rank adapter's output when `lora` targets kernel `name` of `module`
  (an Attention or MLP; `xlt_jax.models.lora`); without adapters y is returned untouched."""
  if lora is None or not lora.adapts(module.ADAPTER_GROUP, name):
    return y
  adapter = Adapter(lora, in_shape, out_shape, in_axes, out_axes, module.config.param_dtype,
                    name=name + "_lora")
  return y + adapter(x).astype(y.dtype)


class Attention(nn.Module):
  """Grouped-query self-attention that reads and writes one layer's KV cache."""

  config: ModelConfig
  lora: LoraConfig | None = None
  # Attention-probability dropout (Hugging Face's `attention_dropout`); needs a "dropout" rng.
  dropout_rate: float = 0.0
  ADAPTER_GROUP = "attention"  # this module's kernels in lora.TARGETS

  @nn.compact
  def __call__(self, x_BLD, rotary_BLh, mask_BLS, layer_cache, cache_index):
    """layer_cache: None, or this layer's (keys, values) [B, K, S, H], returned updated."""
    config = self.config
    D, N, K, H = config.embed_dim, config.num_heads, config.num_kv_heads, config.head_dim
    query_BLNH = project(
        "bld,dnh->blnh", x_BLD, _kernel(self, "query", (D, N, H), ("embed", "heads", "kv"), config)
    )
    key_BLKH = project(
        "bld,dkh->blkh", x_BLD, _kernel(self, "key", (D, K, H), ("embed", "kv_heads", "kv"), config)
    )
    value_BLKH = project(
        "bld,dkh->blkh", x_BLD,
        _kernel(self, "value", (D, K, H), ("embed", "kv_heads", "kv"), config),
    )
    if config.qkv_bias:
      query_BLNH, key_BLKH, value_BLKH = (
          x + self.param(name, _param(nn.initializers.zeros, axes), x.shape[2:],
                         config.param_dtype).astype(x.dtype)
          for x, name, axes in [(query_BLNH, "query_bias", ("heads", "kv")),
                                (key_BLKH, "key_bias", ("kv_heads", "kv")),
                                (value_BLKH, "value_bias", ("kv_heads", "kv"))])
    # Adapters add to the biased projection, as PEFT's lora.Linear adds to base_layer(x).
    query_BLNH = _adapted(self, self.lora, "query", x_BLD, query_BLNH, (D,), (N, H), ("embed",),
                          ("heads", "kv"))
    key_BLKH = _adapted(self, self.lora, "key", x_BLD, key_BLKH, (D,), (K, H), ("embed",),
                        ("kv_heads", "kv"))
    value_BLKH = _adapted(self, self.lora, "value", x_BLD, value_BLKH, (D,), (K, H), ("embed",),
                          ("kv_heads", "kv"))
    if config.qk_norm:
      query_BLNH = Norm(config, "kv", name="query_norm")(query_BLNH)
      key_BLKH = Norm(config, "kv", name="key_norm")(key_BLKH)
    query_BLNH = rope.apply_rope(query_BLNH, *rotary_BLh, config.rope_interleaved)
    key_BLKH = rope.apply_rope(key_BLKH, *rotary_BLh, config.rope_interleaved)

    B, L = x_BLD.shape[:2]
    query_BLKGH = query_BLNH.reshape(B, L, K, N // K, H)
    query_BLKGH = nn.with_logical_constraint(
        query_BLKGH, ("batch", "length", "kv_heads", None, "kv")
    )
    scale = config.query_scale if config.query_scale is not None else H**-0.5
    if layer_cache is not None:
      # Write this call's keys and values at slots [cache_index, cache_index + L) of the
      # heads-first cache (KVCache says why that layout).
      layer_cache = tuple(
          jax.lax.dynamic_update_slice(
              cached_BKSH, jnp.swapaxes(new_BLKH, 1, 2).astype(cached_BKSH.dtype),
              (0, 0, cache_index, 0))
          for cached_BKSH, new_BLKH in zip(layer_cache, (key_BLKH, value_BLKH)))
      output_BLKGH = attention.cached_attention(
          query_BLKGH, layer_cache[0].astype(config.dtype), layer_cache[1].astype(config.dtype),
          mask_BLS, scale, config.dtype)
    else:
      dropout_key = self.make_rng("dropout") if self.dropout_rate else None
      output_BLKGH = dot_product_attention(query_BLKGH, key_BLKH.astype(config.dtype),
                                           value_BLKH.astype(config.dtype), mask_BLS, scale,
                                           config.dtype, self.dropout_rate, dropout_key)
    output_BLNH = output_BLKGH.reshape(B, L, N, H)
    out_NHD = _kernel(self, "out", (N, H, D), ("heads", "kv", "embed"), config, fan_in_axes=2)
    output_BLD = project("blnh,nhd->bld", output_BLNH, out_NHD)
    output_BLD = _adapted(self, self.lora, "out", output_BLNH, output_BLD, (N, H), (D,),
                          ("heads", "kv"), ("embed",))
    return output_BLD, layer_cache


ACTIVATIONS = {"silu": nn.silu, "gelu_tanh": lambda x: nn.gelu(x, approximate=True),
               "gelu": lambda x: nn.gelu(x, approximate=False)}


class MLP(nn.Module):
  """Feed-forward block: gated (SwiGLU, GeGLU), or activation(up) then down (Falcon)."""

  config: ModelConfig
  lora: LoraConfig | None = None
  ADAPTER_GROUP = "mlp"  # this module's kernels in lora.TARGETS

  @nn.compact
  def __call__(self, x_BLD):
    config = self.config
    D, F = config.embed_dim, config.mlp_dim
    # The gate and up products come out in float32 (their accumulation dtype, so free)
    # and the activation is computed in float32: the backward pass then reads float32
    # residuals directly, where bfloat16 ones made XLA's CPU backend convert each
    # whole [layers, B, L, F] stack to float32 before the backward loop.
    # gate is created before up: parameter initialisation follows creation order.
    gate_BLF = project("bld,df->blf", x_BLD,
                        _kernel(self, "gate", (D, F), ("embed", "mlp"), config),
                        jnp.float32) if config.mlp_gated else None
    up_BLF = project("bld,df->blf", x_BLD, _kernel(self, "up", (D, F), ("embed", "mlp"), config),
                      jnp.float32)
    up_BLF = _adapted(self, self.lora, "up", x_BLD, up_BLF, (D,), (F,), ("embed",), ("mlp",))
    if gate_BLF is None:
      hidden_BLF = ACTIVATIONS[config.activation](up_BLF).astype(config.dtype)
    else:
      gate_BLF = _adapted(self, self.lora, "gate", x_BLD, gate_BLF, (D,), (F,), ("embed",),
                          ("mlp",))
      hidden_BLF = (ACTIVATIONS[config.activation](gate_BLF) * up_BLF).astype(config.dtype)
    hidden_BLF = nn.with_logical_constraint(hidden_BLF, ("batch", "length", "mlp"))
    down_FD = _kernel(self, "down", (F, D), ("mlp", "embed"), config)
    return _adapted(self, self.lora, "down", hidden_BLF,
                    project("blf,fd->bld", hidden_BLF, down_FD), (F,), (D,), ("mlp",), ("embed",))


class DecoderLayer(nn.Module):
  """One block. Sequential pre-norm (Llama, Qwen3, Gemma 3 with post norms too), or
  parallel: x + attention(norm(x)) + mlp(norm(x)) with one shared norm (Cohere).

  With dropout_rate > 0 the attention and MLP outputs are dropped out before they are
  added to the residual stream (residual dropout, as t5x's dropout_rate and GPT-2's
  resid_pdrop); with attention_dropout_rate > 0 the attention probabilities are
  (Hugging Face's attention_dropout). Either needs a "dropout" rng.
  """

  config: ModelConfig
  lora: LoraConfig | None = None
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x_BLD, is_global, layer_cache, rotary_tables_BLh, masks, cache_index):
    """rotary_tables_BLh and masks: (global layers', local layers') RoPE tables and masks."""
    config = self.config
    (global_rotary, local_rotary), (global_mask_BLS, local_mask_BLS) = rotary_tables_BLh, masks
    mask_BLS = jnp.where(is_global, global_mask_BLS, local_mask_BLS)
    rotary_BLh = tuple(jnp.where(is_global, global_table, local_table)
                       for global_table, local_table in zip(global_rotary, local_rotary))
    normed = Norm(config, name="attention_norm")(x_BLD)
    attended, layer_cache = Attention(config, self.lora, self.attention_dropout_rate,
                                      name="attention")(
        normed, rotary_BLh, mask_BLS, layer_cache, cache_index)
    if config.post_norms:
      attended = Norm(config, name="post_attention_norm")(attended)
    attended = self._dropout(attended)
    if config.parallel_block:
      x_BLD = x_BLD + attended + self._dropout(MLP(config, self.lora, name="mlp")(normed))
    else:
      x_BLD = x_BLD + attended
      mlp_out = MLP(config, self.lora, name="mlp")(Norm(config, name="mlp_norm")(x_BLD))
      if config.post_norms:
        mlp_out = Norm(config, name="post_mlp_norm")(mlp_out)
      x_BLD = x_BLD + self._dropout(mlp_out)
    x_BLD = nn.with_logical_constraint(x_BLD, ("batch", "length", "embed"))
    return x_BLD, layer_cache

  def _dropout(self, x: jax.Array) -> jax.Array:
    if not self.dropout_rate:  # no op at all: the model without dropout is unchanged
      return x
    return nn.Dropout(self.dropout_rate, deterministic=False)(x)


class Decoder(nn.Module):
  """The language model: token ids in, next-token logits out (optionally with a KV cache).

  With `lora` (rank > 0) the targeted projections carry low-rank adapters
  (`xlt_jax.models.lora`); None or rank 0 is the plain model. dropout_rate > 0 (training
  only: the train step builds such a copy, everything else uses the default) applies
  residual dropout in every layer, attention_dropout_rate > 0 dropout of the attention
  probabilities; either needs a "dropout" rng.
  """

  config: ModelConfig
  lora: LoraConfig | None = None
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  # One module per layer ("layer_<i>", `unstack_layers` gives their parameters) instead of
  # one scanned module: for decoding on CPU, where XLA copies every slice of stacked
  # weights and caches that a loop over tokens reads (decoding.generate_tokens).
  unrolled_layers: bool = False

  @nn.compact
  def __call__(
      self,
      tokens_BL: jax.Array,
      positions_BL: jax.Array | None = None,
      token_mask_BL: jax.Array | None = None,
      cache: KVCache | None = None,
      cache_index: jax.Array | int = 0,
      segment_ids_BL: jax.Array | None = None,
  ) -> tuple[jax.Array, KVCache | None]:
    """Computes logits for every position.

    Args:
      tokens_BL: token ids.
      positions_BL: position of each token (for RoPE); defaults to 0..L-1.
      token_mask_BL: 1 for real tokens, 0 for padding that no query may attend to.
      cache: if given, these tokens occupy cache slots [cache_index, cache_index + L)
        and attend to every earlier valid slot.
      cache_index: first cache slot written by this call.
      segment_ids_BL: for packed rows (no cache): which example each token belongs
        to; tokens attend only within their own segment. Pass the per-segment
        positions as positions_BL so that RoPE restarts at each example.

    Returns:
      (logits_BLV in float32, the updated cache or None).
    """
    config = self.config
    B, L = tokens_BL.shape
    if token_mask_BL is None:
      token_mask_BL = jnp.ones((B, L), bool)
    token_mask_BL = token_mask_BL.astype(bool)

    if cache is None:
      key_valid_BS, first_query_slot, layer_caches = token_mask_BL, 0, None
    else:
      key_valid_BS = jax.lax.dynamic_update_slice(cache.valid, token_mask_BL, (0, cache_index))
      first_query_slot, layer_caches = cache_index, (cache.keys, cache.values)
    S = key_valid_BS.shape[1]
    # Slots fill left to right, so slot distance is position distance for real tokens.
    # Causal: the query in slot first_query_slot + i sees key slots <= that slot.
    distance_LS = (first_query_slot + jnp.arange(L))[:, None] - jnp.arange(S)[None, :]
    global_mask_BLS = (distance_LS >= 0)[None] & key_valid_BS[:, None, :]
    if segment_ids_BL is not None:
      if cache is not None:
        raise UserInputError("segment_ids_BL (packed rows) cannot be used with a KV cache")
      global_mask_BLS &= segment_ids_BL[:, :, None] == segment_ids_BL[:, None, :]
    window = config.sliding_window or S + L
    local_mask_BLS = global_mask_BLS & (distance_LS < window)[None]

    embedding_VD = self.param(
        "embedding",
        # Unit-variance logits at initialisation when the head is tied.
        _param(nn.initializers.normal(stddev=config.embed_dim**-0.5), ("vocab", "embed")),
        (config.vocab_size, config.embed_dim),
        config.param_dtype,
    )
    # Gather from a table gathered over vocab but still split along embed: a gather
    # from a vocab-sharded table makes XLA replicate and re-partition the whole
    # activation, and a fully replicated table (and its gradient) would cost
    # 2 x 8.4 GB per chip for Aya 23 35B in float32 (xlt_jax.plan measures this).
    table_VD = nn.with_logical_constraint(embedding_VD, (None, "embed"))
    x_BLD = jnp.take(table_VD, tokens_BL, axis=0).astype(config.dtype)
    if config.scale_embeddings:
      x_BLD = x_BLD * jnp.asarray(config.embed_dim**0.5, config.param_dtype).astype(config.dtype)
    x_BLD = nn.with_logical_constraint(x_BLD, ("batch", "length", "embed"))

    rotary_tables_BLh = rope.tables_per_layer_kind(config, positions_BL, L)
    layer_inputs = (rotary_tables_BLh, (global_mask_BLS, local_mask_BLS), cache_index)
    layer_settings = (config, self.lora, self.dropout_rate, self.attention_dropout_rate)
    if self.unrolled_layers:
      new_caches = []
      for index, is_global in enumerate(config.layer_is_global()):
        layer_cache = None if layer_caches is None else tuple(x[index] for x in layer_caches)
        x_BLD, layer_cache = DecoderLayer(*layer_settings, name=f"layer_{index}")(
            x_BLD, is_global, layer_cache, *layer_inputs)
        new_caches.append(layer_cache)
      if layer_caches is not None:
        layer_caches = tuple(zip(*new_caches))
    else:
      layer = DecoderLayer
      if REMAT_POLICIES[config.remat_policy] is not None:
        layer = nn.remat(layer, policy=REMAT_POLICIES[config.remat_policy], prevent_cse=False)
      layers = nn.scan(
          layer,
          variable_axes={"params": 0},
          split_rngs={"params": True, LORA_RNG: True, "dropout": True},
          in_axes=(0, 0 if layer_caches is not None else nn.broadcast, nn.broadcast,
                   nn.broadcast, nn.broadcast),
          out_axes=0,
          length=config.num_layers,
          unroll=config.scan_unroll,
          metadata_params={nn.PARTITION_NAME: "layers"},
      )(*layer_settings, name="layers")
      x_BLD, layer_caches = layers(x_BLD, jnp.asarray(config.layer_is_global()), layer_caches,
                                   *layer_inputs)

    x_BLD = Norm(config, name="final_norm")(x_BLD)
    if config.tie_embeddings:
      logits_BLV = project("bld,vd->blv", x_BLD, embedding_VD, jnp.float32)
    else:
      output_DV = _kernel(
          self, "output", (config.embed_dim, config.vocab_size), ("embed", "vocab"), config
      )
      logits_BLV = project("bld,dv->blv", x_BLD, output_DV, jnp.float32)
    if config.logit_scale != 1.0:
      logits_BLV = logits_BLV * config.logit_scale
    logits_BLV = nn.with_logical_constraint(logits_BLV.astype(jnp.float32), ("batch", "length", "vocab"))
    new_cache = None if cache is None else KVCache(*layer_caches, valid=key_valid_BS)
    return logits_BLV, new_cache


def parameter_count(config: ModelConfig) -> int:
  """Number of parameters, computed from abstract shapes (allocates nothing)."""
  shapes = jax.eval_shape(
      lambda: Decoder(config).init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))
  )
  return sum(leaf.size for leaf in jax.tree.leaves(nn.unbox(shapes)))
