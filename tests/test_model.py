"""The decoder: shapes, logical axis names, KV-cache consistency, remat equivalence."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlt_jax.errors import UserInputError
from xlt_jax.model import Decoder, KVCache, ModelConfig, parameter_count

CONFIG = ModelConfig(vocab_size=64, embed_dim=32, num_layers=3, num_heads=4, num_kv_heads=2,
                     head_dim=8, mlp_dim=48)


def _params(config=CONFIG):
  return nn.unbox(Decoder(config).init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))["params"])


def test_every_parameter_has_logical_axis_names_and_layers_are_scanned():
  boxed = Decoder(CONFIG).init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))
  specs = nn.get_partition_spec(boxed)["params"]
  shapes = nn.unbox(boxed)["params"]
  for (path, spec), shape in zip(jax.tree_util.tree_leaves_with_path(specs),
                                 jax.tree.leaves(shapes)):
    assert len(spec) == shape.ndim, path
    assert all(name is not None for name in spec), path
  assert tuple(specs["layers"]["mlp"]["gate"]) == ("layers", "embed", "mlp")
  assert shapes["layers"]["attention"]["query"].shape == (3, 32, 4, 8)


def test_parameter_count_matches_the_formula():
  D, F, N, K, H, V, layers = 32, 48, 4, 2, 8, 64, 3
  per_layer = D * N * H + 2 * D * K * H + N * H * D + 3 * D * F + 2 * D
  assert parameter_count(CONFIG) == V * D + layers * per_layer + D


def test_cached_prefill_and_steps_equal_one_full_pass():
  params = _params()
  model = Decoder(CONFIG)
  tokens = jax.random.randint(jax.random.key(1), (2, 9), 0, 64)
  full, _ = model.apply({"params": params}, tokens)
  cache = KVCache.zeros(CONFIG, 2, 12)
  pieces, index = [], 0
  for length in (4, 1, 1, 3):
    positions = jnp.broadcast_to(jnp.arange(index, index + length), (2, length))
    logits, cache = model.apply({"params": params}, tokens[:, index:index + length], positions,
                                cache=cache, cache_index=index)
    pieces.append(logits)
    index += length
  np.testing.assert_allclose(jnp.concatenate(pieces, axis=1), full, atol=1e-5)


def test_left_padding_does_not_change_the_logits_of_real_tokens():
  params = _params()
  model = Decoder(CONFIG)
  tokens = jnp.array([[5, 6, 7, 8]])
  plain, _ = model.apply({"params": params}, tokens)
  padded = jnp.array([[0, 0, 5, 6, 7, 8]])
  mask = jnp.array([[0, 0, 1, 1, 1, 1]], bool)
  positions = jnp.array([[0, 0, 0, 1, 2, 3]])
  logits, _ = model.apply({"params": params}, padded, positions, mask)
  np.testing.assert_allclose(logits[:, 2:], plain, atol=1e-5)


@pytest.mark.parametrize("policy", ["full", "save_dots"])
def test_rematerialisation_changes_memory_not_results(policy):
  params = _params()
  tokens = jax.random.randint(jax.random.key(2), (2, 7), 0, 64)

  def loss(config, p):
    return jnp.sum(Decoder(config).apply({"params": p}, tokens)[0] ** 2)

  reference = jax.grad(lambda p: loss(CONFIG, p))(params)
  remat = jax.grad(lambda p: loss(dataclasses.replace(CONFIG, remat_policy=policy), p))(params)
  for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(remat)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_bad_configs_name_the_problem():
  with pytest.raises(UserInputError, match="not a multiple of num_kv_heads"):
    dataclasses.replace(CONFIG, num_kv_heads=3)
  with pytest.raises(UserInputError, match="unknown remat_policy"):
    dataclasses.replace(CONFIG, remat_policy="some")
