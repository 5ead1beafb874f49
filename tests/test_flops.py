"""Analytic training FLOPs against the XLA compiler's own count of the compiled step."""

import jax
import jax.numpy as jnp
import pytest

from xlt_jax.models import flops
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import sharding
from xlt_jax.training.train_step import OptimizerConfig, build


@pytest.mark.parametrize("embed_dim, mlp_dim, length", [(256, 1024, 128), (512, 2048, 256)])
def test_analytic_flops_match_the_compiled_train_step(embed_dim, mlp_dim, length):
  # One layer: XLA's cost analysis counts a scan (while loop) body once, not per trip.
  config = ModelConfig(vocab_size=1024, embed_dim=embed_dim, num_layers=1, num_heads=8,
                       num_kv_heads=4, head_dim=embed_dim // 8, mlp_dim=mlp_dim)
  mesh = sharding.make_mesh(sharding.MeshConfig(1, 1, 1), jax.devices()[:1])
  functions = build(config, OptimizerConfig(), mesh)
  batch = {key: jax.ShapeDtypeStruct((4, length), jnp.int32, sharding=functions.batch_sharding)
           for key in ("decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights")}
  state = jax.tree.map(lambda leaf, leaf_sharding: jax.ShapeDtypeStruct(
      leaf.shape, leaf.dtype, sharding=leaf_sharding), functions.abstract_state,
      functions.state_sharding)
  with jax.sharding.set_mesh(mesh):
    compiled = functions.train_step.__wrapped__.lower(state, batch).compile()
  compiled_flops = compiled.cost_analysis()["flops"]
  analytic = flops.training_flops_per_token(config, length) * 4 * length
  # The analytic count leaves out softmax, norms and the optimizer: a few percent.
  assert 0.95 < analytic / compiled_flops <= 1.0, analytic / compiled_flops


def test_peak_is_known_for_tpus_only():
  assert flops.peak_flops_per_chip(jax.devices()[0]) is None  # CPU: no MFU
  assert flops.PEAK_TFLOPS_PER_CHIP["TPU v5 lite"] == 197.0
  assert flops.PEAK_TFLOPS_PER_CHIP["TPU v5p"] == 459.0
