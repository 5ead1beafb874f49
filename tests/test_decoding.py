"""Greedy KV-cache decoding equals decoding that recomputes the whole sequence, and the
engine's CPU path (unrolled layers) decodes exactly as the scanned layers do."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlt_jax.evaluation.decoding import greedy_generate, greedy_generate_without_cache, left_pad
from xlt_jax.models import int8_base, lora
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.kv_cache import KVCache, unstack_layers

CONFIG = ModelConfig(vocab_size=48, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=1,
                     head_dim=8, mlp_dim=64)


def _model_and_params():
  model = Decoder(CONFIG)
  params = nn.unbox(model.init(jax.random.key(3), jnp.zeros((1, 1), jnp.int32))["params"])
  # Sharpen the random model so that its greedy choices vary from step to step.
  params = jax.tree.map(lambda p: p * 3.0 if p.ndim >= 3 else p, params)
  return model, params


def test_left_pad():
  tokens, mask = left_pad([[1, 2], [3, 4, 5]])
  assert tokens.tolist() == [[0, 1, 2], [3, 4, 5]]
  assert mask.tolist() == [[False, True, True], [True, True, True]]


def test_batched_cached_greedy_equals_uncached_greedy_for_every_row():
  model, params = _model_and_params()
  rng = np.random.default_rng(0)
  prompts = [rng.integers(2, 48, length).tolist() for length in (3, 9, 5, 1)]
  tokens, mask = left_pad(prompts)
  generated = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=16, eos_id=1))
  distinct = set()
  for row, prompt in zip(generated.tolist(), prompts):
    reference = greedy_generate_without_cache(model, params, prompt, max_new_tokens=16, eos_id=1)
    assert row[:len(reference)] == reference
    assert all(token == 0 for token in row[len(reference):])
    distinct.update(reference)
  assert len(distinct) > 4  # the test would be vacuous if the model repeated one token


def test_generation_stops_after_eos_and_pads():
  model, params = _model_and_params()
  tokens, mask = left_pad([[5, 6, 7]])
  first = int(np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=1,
                                         eos_id=1))[0, 0])
  # Declare the first generated token to be EOS: decoding must stop right there.
  generated = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=8,
                                         eos_id=first))
  assert generated[0].tolist() == [first] + [0] * 7


def test_generation_stops_at_any_of_several_end_ids():
  model, params = _model_and_params()
  tokens, mask = left_pad([[5, 6, 7]])
  free = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=8, eos_id=-1))[0]
  # EOS never comes; the third generated token ends the row as an end-of-turn token would.
  generated = np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=8,
                                         eos_id=(-1, int(free[2]))))
  stop = free.tolist().index(int(free[2]))
  assert generated[0].tolist() == free[:stop + 1].tolist() + [0] * (7 - stop)


GEMMA3_LIKE = ModelConfig(vocab_size=48, embed_dim=32, num_layers=4, num_heads=4, num_kv_heads=2,
                          head_dim=8, mlp_dim=64, qk_norm=True, post_norms=True,
                          sliding_window=3, global_layer_every=2)
ADAPTERS = lora.LoraConfig(rank=2, targets=tuple(lora.TARGETS), base_dtype="int8")


@pytest.mark.parametrize("config, adapters", [(GEMMA3_LIKE, None), (CONFIG, ADAPTERS)],
                         ids=["local-and-global-layers", "int8-base-with-adapters"])
def test_unrolled_layers_decode_exactly_as_scanned_layers(config, adapters):
  """The engine's CPU path (one module per layer, `unstack_layers`) is the same model:
  equal logits and cache in a prefill, and the same greedy tokens (sampling reads the
  same logits)."""
  model = Decoder(config, adapters)
  params = nn.unbox(model.init(jax.random.key(3), jnp.zeros((1, 1), jnp.int32))["params"])
  rng = np.random.default_rng(1)
  # Sharpen the model and give every adapter a nonzero value, so each part counts.
  params = jax.tree.map(lambda p: p * 3.0 if p.ndim >= 3 else p, params)
  if adapters:
    base, trained = lora.split(params)
    trained = jax.tree.map(lambda x: rng.normal(0, 0.3, x.shape).astype(np.float32), trained)
    params = lora.combine(int8_base.quantize_base(base), trained)
  unrolled = model.clone(unrolled_layers=True)
  unrolled_params = unstack_layers(params, config.num_layers)
  assert "layers" not in unrolled_params and f"layer_{config.num_layers - 1}" in unrolled_params

  tokens, mask = left_pad([rng.integers(2, 48, length).tolist() for length in (3, 9, 5, 1)])
  positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
  def prefill(model, params, per_layer):
    cache = KVCache.zeros(config, 4, 12, per_layer=per_layer)
    return jax.jit(model.apply)({"params": params}, tokens, positions, mask, cache=cache)

  scanned_logits, scanned_cache = prefill(model, params, False)
  unrolled_logits, unrolled_cache = prefill(unrolled, unrolled_params, True)
  np.testing.assert_allclose(unrolled_logits, scanned_logits, atol=1e-5)
  np.testing.assert_allclose(np.stack(unrolled_cache.keys), scanned_cache.keys, atol=1e-5)

  generated = [np.asarray(greedy_generate(model, params, tokens, mask, max_new_tokens=12,
                                          eos_id=-1, unrolled_layers=unrolled_layers))
               for unrolled_layers in (False, True)]
  np.testing.assert_array_equal(generated[1], generated[0])
  assert len(set(generated[0].ravel().tolist())) > 4  # the model does not repeat one token
