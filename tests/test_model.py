"""The decoder: shapes, logical axis names, KV-cache consistency, remat equivalence."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder, parameter_count
from xlt_jax.models.kv_cache import KVCache
from xlt_jax.models.projection import mixed_precision_dot

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


def test_default_positions_and_unrolled_layers_change_nothing_under_jit():
  """Default positions take RoPE tables computed while tracing (constants); explicit
  positions compute them in the program; scan_unroll unrolls the layer loop. Logits and
  gradients agree across the three."""
  params = _params()
  tokens = jax.random.randint(jax.random.key(3), (2, 9), 0, 64)
  positions = jnp.broadcast_to(jnp.arange(9), (2, 9))

  results = []
  for config, given in [(CONFIG, None), (CONFIG, positions),
                        (dataclasses.replace(CONFIG, scan_unroll=3), None)]:
    model = Decoder(config)
    results.append(jax.jit(jax.value_and_grad(
        lambda p, model=model, given=given: jnp.sum(
            model.apply({"params": p}, tokens, given)[0] ** 2)))(params))
  for value, grads in results[1:]:
    np.testing.assert_allclose(value, results[0][0], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(results[0][1])):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_bad_configs_name_the_problem():
  with pytest.raises(UserInputError, match="not a multiple of num_kv_heads"):
    dataclasses.replace(CONFIG, num_kv_heads=3)
  with pytest.raises(UserInputError, match="unknown remat_policy"):
    dataclasses.replace(CONFIG, remat_policy="some")


def _dot_generals(jaxpr) -> list:
  """Every dot_general in a jaxpr, including those nested in custom_vjp and other calls."""
  found = []
  for equation in jaxpr.eqns:
    if equation.primitive.name == "dot_general":
      found.append(equation)
    for value in equation.params.values():
      inner = getattr(value, "jaxpr", value)
      if hasattr(inner, "eqns"):
        found += _dot_generals(inner)
  return found


@pytest.mark.parametrize("equation, x_shape, y_shape", [
    ("blnh,nhd->bld", (2, 3, 4, 5), (4, 5, 6)),  # attention output projection
    ("bld,vd->blv", (2, 3, 6), (7, 6)),  # tied logits: the kernel contracts on its last axis
    ("bld,dnh->blnh", (2, 3, 6), (6, 4, 5)),
])
def test_mixed_precision_dot_is_a_float32_accumulated_bfloat16_matmul(equation, x_shape, y_shape):
  x = jax.random.normal(jax.random.key(0), x_shape).astype(jnp.bfloat16)
  y = jax.random.normal(jax.random.key(1), y_shape).astype(jnp.bfloat16)
  inputs, output = equation.split("->")
  contracted = [letter for letter in inputs.split(",")[0] if letter in inputs.split(",")[1]]
  x_axes = tuple(inputs.split(",")[0].index(letter) for letter in contracted)
  y_axes = tuple(inputs.split(",")[1].index(letter) for letter in contracted)
  weights = jax.random.normal(jax.random.key(2), jnp.einsum(equation, x, y).shape)

  def mixed(x, y):
    return jnp.sum(mixed_precision_dot(x, y, x_axes, y_axes, jnp.float32) * weights)

  def exact(x, y):  # the same bf16 values, all in float32
    return jnp.sum(jnp.einsum(equation, x.astype(jnp.float32), y.astype(jnp.float32)) * weights)

  value, grads = jax.value_and_grad(mixed, argnums=(0, 1))(x, y)
  expected_value, expected_grads = jax.value_and_grad(exact, argnums=(0, 1))(x, y)
  np.testing.assert_allclose(value, expected_value, rtol=1e-5)
  for grad, expected, operand in zip(grads, expected_grads, (x, y)):
    assert grad.dtype == operand.dtype and grad.shape == operand.shape
    # Only the bf16 rounding of the cotangent and of the result separates them.
    np.testing.assert_allclose(grad.astype(jnp.float32), expected, rtol=2e-2, atol=2e-2)
  # The speed property: every product, forward and backward, multiplies bf16 by bf16
  # into float32 (a float32 operand would make XLA run it at float32 speed).
  dots = _dot_generals(jax.make_jaxpr(jax.grad(mixed, argnums=(0, 1)))(x, y).jaxpr)
  assert len(dots) == 3
  for dot in dots:
    assert [operand.aval.dtype for operand in dot.invars] == [jnp.bfloat16, jnp.bfloat16]
    assert dot.params["preferred_element_type"] == jnp.float32


def test_bfloat16_compute_over_float32_weights_stays_close_to_float32():
  """dtype="bfloat16" with param_dtype="float32" (the fast mixed-precision step): the
  loss within 1% and the gradients pointing the same way as in float32."""
  params = _params()
  tokens = jax.random.randint(jax.random.key(3), (2, 16), 0, 64)

  def loss(config, p):
    logits = Decoder(config).apply({"params": p}, tokens[:, :-1])[0]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]))

  mixed = dataclasses.replace(CONFIG, dtype="bfloat16")
  reference_loss, reference_grads = jax.jit(jax.value_and_grad(lambda p: loss(CONFIG, p)))(params)
  mixed_loss, mixed_grads = jax.jit(jax.value_and_grad(lambda p: loss(mixed, p)))(params)
  assert abs(mixed_loss - reference_loss) < 0.01 * reference_loss
  for reference, grad in zip(jax.tree.leaves(reference_grads), jax.tree.leaves(mixed_grads)):
    assert grad.dtype == jnp.float32  # master weights and their gradients stay float32
    cosine = jnp.vdot(reference, grad) / (jnp.linalg.norm(reference) * jnp.linalg.norm(grad))
    assert cosine > 0.99, cosine
