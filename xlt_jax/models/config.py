"""The decoder's hyper-parameters: one frozen dataclass that gin builds and every stage reads.

Family differences (Cohere's parallel block, Gemma's extra norms, Qwen3's q/k norm,
Qwen1.5's q/k/v biases, Falcon's biased LayerNorm and plain GELU MLP)
are fields here, so a reader sees every family's quirks as data (STYLE P5).
"""

import dataclasses

import jax

from xlt_jax.core.errors import UserInputError

# How a model runs rather than what it is: the fields a converted checkpoint's config
# takes from the experiment (the rest must be the checkpoint's).
RUNTIME_FIELDS = ("dtype", "param_dtype", "remat_policy", "scan_unroll")

REMAT_POLICIES = {
    "none": None,
    "full": jax.checkpoint_policies.nothing_saveable,
    "save_dots": jax.checkpoint_policies.checkpoint_dots,
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Hyper-parameters of the decoder; gin builds it, the model only reads it."""

  vocab_size: int
  embed_dim: int  # D
  num_layers: int
  num_heads: int  # N
  num_kv_heads: int  # K; N must be a multiple of K
  head_dim: int  # H
  mlp_dim: int  # F
  rope_base: float = 10_000.0
  norm_epsilon: float = 1e-6
  tie_embeddings: bool = True
  dtype: str = "float32"  # activations and matmuls
  param_dtype: str = "float32"
  remat_policy: str = "none"  # one of REMAT_POLICIES
  scan_unroll: int = 1  # layers per scan iteration (xlt_jax.plan unrolls to count FLOPs)
  # Family differences, as data (STYLE P5). Defaults give a Llama-style decoder.
  norm_type: str = "rms"  # "rms", or "layer": mean-centred LayerNorm (Cohere, Falcon)
  norm_bias: bool = False  # norms add a learned bias (Falcon's LayerNorm)
  norm_scale_plus_one: bool = False  # weights w applied as (1 + w) (Gemma)
  parallel_block: bool = False  # attention and MLP read one shared norm, summed (Cohere)
  post_norms: bool = False  # extra norms on the attention and MLP outputs (Gemma 3)
  qk_norm: bool = False  # RMSNorm over head_dim of each query and key head (Qwen3, Gemma 3)
  qkv_bias: bool = False  # biases on the query, key and value projections (Qwen1.5 / qwen2)
  rope_interleaved: bool = False  # rotate pairs (2i, 2i+1) instead of (i, i + H/2) (Cohere)
  rope_scaling: str = "none"  # "none", "llama3" or "linear"; applies to global layers
  rope_scaling_factor: float = 1.0
  rope_low_frequency_factor: float = 1.0  # llama3 scaling only
  rope_high_frequency_factor: float = 4.0  # llama3 scaling only
  rope_original_max_positions: int = 8192  # llama3 scaling only
  logit_scale: float = 1.0  # logits multiplied by this (Cohere: 0.0625)
  scale_embeddings: bool = False  # token embeddings multiplied by sqrt(embed_dim) (Gemma)
  activation: str = "silu"  # MLP activation: "silu" (SwiGLU), "gelu_tanh" (GeGLU), "gelu" (exact)
  mlp_gated: bool = True  # gate * up; False: activation(up) alone, two matrices (Falcon)
  query_scale: float | None = None  # attention score scale; None: head_dim ** -0.5
  sliding_window: int | None = None  # local layers see this many most recent tokens
  global_layer_every: int = 1  # every n-th layer is global, the rest local (Gemma 3: 6)
  local_rope_base: float = 10_000.0  # RoPE base of local layers

  def __post_init__(self):
    if self.num_heads % self.num_kv_heads:
      raise UserInputError(
          f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}"
      )
    if self.remat_policy not in REMAT_POLICIES:
      raise UserInputError(
          f"unknown remat_policy {self.remat_policy!r}; choose one of {sorted(REMAT_POLICIES)}"
      )
    for field, allowed in [("norm_type", ("rms", "layer")), ("activation", ("silu", "gelu_tanh", "gelu")),
                           ("rope_scaling", ("none", "llama3", "linear"))]:
      if getattr(self, field) not in allowed:
        raise UserInputError(f"unknown {field} {getattr(self, field)!r}; choose one of {allowed}")
    if self.global_layer_every > 1 and self.sliding_window is None:
      raise UserInputError("global_layer_every > 1 needs a sliding_window for the local layers")

  def layer_is_global(self) -> list[bool]:
    """Per layer: global attention (True) or sliding-window local attention (False)."""
    if self.sliding_window is None:
      return [True] * self.num_layers
    return [(layer + 1) % self.global_layer_every == 0 for layer in range(self.num_layers)]
