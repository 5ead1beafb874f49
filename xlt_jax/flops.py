"""Analytic training FLOPs of the decoder and the peak FLOP/s of accelerator chips,
for the throughput (TFLOP/s per chip, MFU) every training log line reports."""

import jax

from xlt_jax.model import ModelConfig

# Peak dense bf16 TFLOP/s per chip, by jax's device_kind (vendor data sheets).
PEAK_TFLOPS_PER_CHIP = {
    "TPU v5 lite": 197.0,  # v5e
    "TPU v5e": 197.0,
    "TPU v5p": 459.0,
    "TPU v5": 459.0,
}


def training_flops_per_token(config: ModelConfig, sequence_length: int) -> float:
  """Forward + backward FLOPs per token position: 6 x matmul parameters, plus attention.

  Counts every matrix multiply (projections, MLP, output logits; the embedding
  lookup is free) and the two attention matmuls over the whole sequence, as
  MaxText and the PaLM paper's MFU do. Padding positions cost the same as tokens.
  """
  D, F, N, K, H = (config.embed_dim, config.mlp_dim, config.num_heads, config.num_kv_heads,
                   config.head_dim)
  per_layer = D * N * H * 2 + D * K * H * 2 + 3 * D * F
  matmul_parameters = config.num_layers * per_layer + D * config.vocab_size
  attention = 2 * 2 * config.num_layers * N * H * sequence_length  # QK^T and AV, forward
  return 6.0 * matmul_parameters + 3.0 * attention


def peak_flops_per_chip(device: jax.Device | None = None) -> float | None:
  """Peak FLOP/s of one chip, or None where unknown (CPUs): then MFU is not reported."""
  device = device or jax.devices()[0]
  tflops = PEAK_TFLOPS_PER_CHIP.get(device.device_kind)
  return None if tflops is None else tflops * 1e12
