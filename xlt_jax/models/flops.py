"""Analytic training FLOPs of the decoder and the accelerator chip table (peak FLOP/s,
HBM), for the throughput every training log line reports and for `xlt_jax.plan`."""

import dataclasses

import jax

from xlt_jax.models.config import ModelConfig


@dataclasses.dataclass(frozen=True)
class Chip:
  """What one accelerator chip offers: peak dense bf16 FLOP/s and HBM (vendor data sheets)."""

  name: str
  peak_tflops: float
  hbm_bytes: int


_V5E = Chip("TPU v5e", 197.0, 16 * 2**30)
_V5P = Chip("TPU v5p", 459.0, 95 * 2**30)

# The one chip table, by jax's device_kind (libtpu names v5e "TPU v5 lite", v5p "TPU v5").
CHIPS: dict[str, Chip] = {
    "TPU v5 lite": _V5E,
    "TPU v5e": _V5E,
    "TPU v5p": _V5P,
    "TPU v5": _V5P,
}
PEAK_TFLOPS_PER_CHIP = {kind: chip.peak_tflops for kind, chip in CHIPS.items()}


def matmul_parameters(config: ModelConfig) -> int:
  """Parameters that enter a matrix multiply once per token: every layer's projections
  and MLP, and the output logits (the embedding lookup is free)."""
  D, F, N, K, H = (config.embed_dim, config.mlp_dim, config.num_heads, config.num_kv_heads,
                   config.head_dim)
  per_layer = D * N * H * 2 + D * K * H * 2 + (3 if config.mlp_gated else 2) * D * F
  return config.num_layers * per_layer + D * config.vocab_size


def _attention_flops(config: ModelConfig, sequence_length: int) -> float:
  """Forward FLOPs per token of the two attention matmuls (QK^T and AV) over the sequence."""
  return 2 * 2 * config.num_layers * config.num_heads * config.head_dim * sequence_length


def training_flops_per_token(config: ModelConfig, sequence_length: int) -> float:
  """Forward + backward FLOPs per token position: 6 x matmul parameters, plus attention.

  Counts every matrix multiply (projections, MLP, output logits; the embedding
  lookup is free) and the two attention matmuls over the whole sequence, as
  MaxText and the PaLM paper's MFU do. Padding positions cost the same as tokens.
  """
  return 6.0 * matmul_parameters(config) + 3.0 * _attention_flops(config, sequence_length)


def lora_training_flops_per_token(config: ModelConfig, sequence_length: int,
                                  adapter_parameters: int) -> float:
  """`training_flops_per_token` of a LoRA step: the frozen base costs 4 x its matmul
  parameters (forward, and the backward pass's gradient with respect to activations; no
  weight gradient is computed for it), the adapters 6 x theirs (each adapter parameter
  is in one matmul per token), attention as in full fine-tuning."""
  return (4.0 * matmul_parameters(config) + 6.0 * adapter_parameters
          + 3.0 * _attention_flops(config, sequence_length))


def peak_flops_per_chip(device: jax.Device | None = None) -> float | None:
  """Peak FLOP/s of one chip, or None where unknown (CPUs): then MFU is not reported."""
  device = device or jax.devices()[0]
  tflops = PEAK_TFLOPS_PER_CHIP.get(device.device_kind)
  return None if tflops is None else tflops * 1e12
