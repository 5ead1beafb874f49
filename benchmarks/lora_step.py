"""A LoRA train step against a full fine-tuning step of the same model, side by side.

    JAX_PLATFORMS=cpu python benchmarks/lora_step.py [--model=demo] [--steps=60]

Times the jitted train step (`train_step.build`, `lora_step.build` + `bind`) of the CPU
demo's model (gin/models/demo_small.gin: ~1M parameters; batch 32 of 80 tokens, the
demo's fine-tuning batch) with full fine-tuning, with LoRA rank 16 on all seven
projections (the demo's setting) and on q and v only, and prints one JSON object (with
the machine, `machine_info.describe_machine`): each one's milliseconds per step and its
ratio to the full step. A LoRA step differentiates less than a full one
but adds two small products per adapter; on CPU, where a small model's step is bound by
per-operation overhead, the adapters' extra operations decide the ratio.
"""

import argparse
import json
import os
import sys
import time

# Benchmark the checkout this file lives in, whatever xlt_jax the environment installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import machine_info  # benchmarks/, the script's own folder
import numpy as np

from xlt_jax.models import lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import lora_step, sharding, train_step

MODELS = {
    "demo": ModelConfig(vocab_size=1024, embed_dim=128, num_layers=4, num_heads=4,
                        num_kv_heads=2, head_dim=32, mlp_dim=384, tie_embeddings=True,
                        scan_unroll=4),
}
ALL_SEVEN = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _milliseconds_per_step(step, state, batch, steps: int) -> float:
  state, metrics = step(state, batch)  # compiles
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for _ in range(steps):
    state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  return (time.perf_counter() - start) / steps * 1000


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", choices=sorted(MODELS), default="demo")
  parser.add_argument("--steps", type=int, default=60, help="timed steps of each")
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--length", type=int, default=80, help="tokens per row")
  args = parser.parse_args()
  model = MODELS[args.model]
  mesh = sharding.make_mesh(sharding.MeshConfig())
  optimizer = train_step.OptimizerConfig(learning_rate=1e-3, warmup_steps=20)
  tokens = np.random.default_rng(0).integers(3, model.vocab_size, (args.batch_size, args.length))
  rows = {"decoder_input_tokens": tokens.astype(np.int32),
          "decoder_target_tokens": tokens.astype(np.int32),
          "decoder_loss_weights": np.ones(tokens.shape, np.float32)}
  full = train_step.build(model, optimizer, mesh)
  state = full.init(jax.random.key(0))
  base = jax.tree.map(np.asarray, state.params)  # the full step donates its state
  batch = train_step.global_batch(rows, full.batch_sharding)
  timings = {"full fine-tuning": _milliseconds_per_step(full.train_step, state, batch,
                                                        args.steps)}
  for name, targets in (("LoRA r16, all seven projections", ALL_SEVEN),
                        ("LoRA r16, q and v", ("q_proj", "v_proj"))):
    functions = lora_step.build(model, lora.LoraConfig(rank=16, alpha=32.0, targets=targets),
                                optimizer, mesh)
    bound = lora_step.bind(functions, jax.device_put(base, functions.base_sharding))
    timings[name] = _milliseconds_per_step(bound.train_step, bound.init(jax.random.key(0)),
                                           batch, args.steps)
  full_step = timings["full fine-tuning"]
  print(json.dumps({
      "model": args.model, "batch_size": args.batch_size, "length": args.length,
      "steps": args.steps, "platform": jax.devices()[0].platform,
      "machine": machine_info.describe_machine(),
      "ms_per_step": {name: round(value, 1) for name, value in timings.items()},
      "ratio_to_full": {name: round(value / full_step, 2) for name, value in timings.items()},
  }, indent=1))

if __name__ == "__main__":
  main()
