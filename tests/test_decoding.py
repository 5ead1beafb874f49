"""Greedy KV-cache decoding equals decoding that recomputes the whole sequence."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from xlt_jax.evaluation.decoding import greedy_generate, greedy_generate_without_cache, left_pad
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import Decoder

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
