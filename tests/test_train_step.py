"""The jit-compiled sharded train step: same numbers on 8 devices as on 1, loss goes down."""

import dataclasses

import jax
import numpy as np
import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import sharding
from xlt_jax.training.train_step import OptimizerConfig, build, global_batch

CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=64)
OPTIMIZER = OptimizerConfig(learning_rate=3e-3)


def _batch(seed=0, batch_size=8, length=16):
  rng = np.random.default_rng(seed)
  tokens = rng.integers(2, 64, (batch_size, length + 1)).astype(np.int32)
  # A learnable pattern: the second half repeats the first half.
  tokens[:, length // 2 + 1:] = tokens[:, 1:length // 2 + 1][:, :tokens.shape[1] - length // 2 - 1]
  weights = np.zeros((batch_size, length), np.int32)
  weights[:, length // 2:] = 1
  return {"decoder_input_tokens": tokens[:, :-1], "decoder_target_tokens": tokens[:, 1:],
          "decoder_loss_weights": weights}


def _losses(mesh_config, devices, steps=4, same_batch=False, config=CONFIG):
  mesh = sharding.make_mesh(mesh_config, devices)
  functions = build(config, OPTIMIZER, mesh)
  state = functions.init(jax.random.key(0))
  losses = []
  for step in range(steps):
    state, metrics = functions.train_step(
        state, global_batch(_batch(0 if same_batch else step), functions.batch_sharding))
    losses.append(float(metrics["loss"]))
  validation = functions.validation_step(state.params, global_batch(_batch(99), functions.batch_sharding))
  return losses, [float(v) for v in validation], state


def test_sharded_step_on_8_devices_equals_1_device():
  single, single_validation, _ = _losses(sharding.MeshConfig(1, 1, 1), jax.devices()[:1])
  sharded, sharded_validation, state = _losses(sharding.MeshConfig(2, 2, 2), jax.devices())
  np.testing.assert_allclose(sharded, single, rtol=1e-5)
  np.testing.assert_allclose(sharded_validation, single_validation, rtol=1e-5)
  gate = state.params["layers"]["mlp"]["gate"]
  assert len(gate.sharding.device_set) == 8
  assert tuple(gate.sharding.spec) == (None, "fsdp", "tensor")
  # Optimizer moments are sharded like their parameters.
  moments = [leaf for leaf in jax.tree.leaves(state.opt_state) if leaf.shape == gate.shape]
  assert moments and all(m.sharding.spec == gate.sharding.spec for m in moments)


def test_loss_goes_down_on_a_tiny_config():
  losses, _, _ = _losses(sharding.MeshConfig(data=-1), jax.devices(), steps=30, same_batch=True)
  assert losses[-1] < 0.5 * losses[0], losses


def test_mesh_shapes():
  assert sharding.MeshConfig(data=-1, tensor=2).shape(8) == (1, 4, 1, 2)
  with pytest.raises(UserInputError, match="needs 16 devices"):
    sharding.MeshConfig(4, 2, 2).shape(8)
  with pytest.raises(UserInputError, match="at most one axis"):
    sharding.MeshConfig(-1, -1, 1).shape(8)


def test_no_mesh_axis_name_outside_the_sharding_module():
  """STYLE P1: the rule table is the only place that names mesh axes."""
  import pathlib
  import re

  package = pathlib.Path(sharding.__file__).parents[1]  # all of xlt_jax/
  pattern = re.compile(r"""["'](fsdp|tensor)["']""")
  offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
               if path.name != "sharding.py" and pattern.search(path.read_text())]
  assert not offenders


def test_gradient_accumulation_equals_the_large_batch():
  """4 microbatches of 4 rows give the update of one 16-row batch (ragged loss weights)."""
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  batch = _batch(5, batch_size=16)
  batch["decoder_loss_weights"][::3, 10:] = 0  # rows with different numbers of targets
  results = []
  for microbatches in (1, 4):
    functions = build(CONFIG, OPTIMIZER, mesh, num_microbatches=microbatches)
    state = functions.init(jax.random.key(0))
    state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
    results.append((state, metrics))
  (large, large_metrics), (accumulated, accumulated_metrics) = results
  for key in ("loss", "grad_norm", "target_tokens"):
    np.testing.assert_allclose(accumulated_metrics[key], large_metrics[key], rtol=1e-5)
  # Adam divides by sqrt(v): on near-zero gradients, summation-order rounding moves
  # an element by up to ~1e-3 of a step (lr 3e-3), hence atol 1e-5.
  for a, b in zip(jax.tree.leaves(accumulated.params), jax.tree.leaves(large.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_a_large_replicated_parameter_fails_fast_with_its_name():
  from xlt_jax.models.decoder import Decoder
  from xlt_jax.training.train_step import abstract_params
  big = ModelConfig(vocab_size=65536, embed_dim=1024, num_layers=1, num_heads=8,
                    num_kv_heads=8, head_dim=128, mlp_dim=1024)  # embedding: 256 MiB in fp32
  data_parallel = sharding.make_mesh(sharding.MeshConfig(data=8))
  with pytest.raises(UserInputError, match=r"parameter \['embedding'\] \(256 MiB\) would be"
                                           r" replicated on all 8 devices"):
    sharding.audit_replication(abstract_params(Decoder(big), data_parallel), data_parallel,
                               max_replicated_bytes=128 << 20)
  # With fsdp and tensor axes the same parameter is split, and the audit passes.
  split = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  sharding.audit_replication(abstract_params(Decoder(big), split), split,
                             max_replicated_bytes=128 << 20)


@pytest.mark.slow
def test_bfloat16_compute_trains_like_float32_on_a_sharded_mesh():
  """The mixed-precision step (bf16 matmuls accumulated in float32 over float32 master
  weights) runs compiled on CPU, sharded 2x2x2, and follows the float32 losses."""
  mesh_config, devices = sharding.MeshConfig(2, 2, 2), jax.devices()
  reference, _, _ = _losses(mesh_config, devices, steps=3, same_batch=True)
  mixed, _, state = _losses(mesh_config, devices, steps=3, same_batch=True,
                            config=dataclasses.replace(CONFIG, dtype="bfloat16"))
  assert all(leaf.dtype == np.float32 for leaf in jax.tree.leaves(state.params))
  np.testing.assert_allclose(mixed, reference, rtol=0.02)
  assert mixed[-1] < mixed[0]
