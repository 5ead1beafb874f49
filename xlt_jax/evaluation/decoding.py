"""Batched decoding: one prefill of the left-padded prompts, then one token per step from
a KV cache, all inside a single jitted while-loop; greedy, or sampled with the logits
processors of `xlt_jax.evaluation.sampling`."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from xlt_jax.evaluation import sampling
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.kv_cache import KVCache, unstack_layers


def left_pad(prompts: list[list[int]], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Left-pads token lists to a common length: (tokens_BP, mask_BP) with mask 1 on real tokens."""
  length = length or max(len(prompt) for prompt in prompts)
  tokens = np.zeros((len(prompts), length), np.int32)
  mask = np.zeros((len(prompts), length), bool)
  for row, prompt in enumerate(prompts):
    prompt = prompt[-length:]
    tokens[row, length - len(prompt):] = prompt
    mask[row, length - len(prompt):] = True
  return tokens, mask


def greedy_generate(
    model: Decoder,
    params,
    tokens_BP: jax.Array,
    mask_BP: jax.Array,
    *,
    max_new_tokens: int,
    eos_id: int | tuple[int, ...],
    unrolled_layers: bool = False,
) -> jax.Array:
  """Greedy continuation of left-padded prompts (`unrolled_layers`: see generate_tokens).

  Args:
    eos_id: the id, or a tuple of ids, that ends a row (EOS, a chat family's
      end-of-turn token); -1 for none.

  Returns:
    [B, max_new_tokens] generated ids; after a row's EOS (which is included) the
    row holds 0 (padding). Stops early once every row has produced EOS.
  """
  B = tokens_BP.shape[0]
  settings = sampling.Settings(*(jnp.zeros((), jnp.float32) for _ in range(5)))
  return generate_tokens(model, params, tokens_BP, mask_BP, jnp.zeros((B,), jnp.uint32),
                         settings, max_new_tokens=max_new_tokens, eos_id=eos_id,
                         processing=sampling.Processing(), unrolled_layers=unrolled_layers)


@functools.partial(jax.jit, static_argnames=("model", "max_new_tokens", "eos_id", "processing",
                                             "unrolled_layers"))
def generate_tokens(
    model: Decoder,
    params,
    tokens_BP: jax.Array,
    mask_BP: jax.Array,
    seeds_B: jax.Array,
    settings: sampling.Settings,
    *,
    max_new_tokens: int,
    eos_id: int | tuple[int, ...],
    processing: sampling.Processing,
    unrolled_layers: bool = False,
) -> jax.Array:
  """Continuation of left-padded prompts, greedy or sampled (`xlt_jax.evaluation.sampling`).

  Args:
    seeds_B: each row's seed; its draws use jax.random.key(seed) folded with the step.
    settings, processing: the logits processors' values and which of them run.
    eos_id: the id, or a tuple of ids, that ends a row; -1 for none.
    unrolled_layers: decode with one module per layer (`Decoder.unrolled_layers`), each
      layer's weights sliced once before the loop over tokens and its cache its own
      array. Same tokens; on XLA's CPU backend, where every slice of the stacked weights
      and cache inside that loop is a copy, 2-3x faster (benchmarks/decode_vs_hf.py). It
      holds a second copy of the layers' weights and compiles every layer, so
      accelerators, whose compilers read stacked slices in place, keep the scan.

  Returns:
    [B, max_new_tokens] generated ids; after a row's end id (which is included) the
    row holds 0. Stops early once every row has ended.
  """
  B, P = tokens_BP.shape
  stop_ids = jnp.asarray(eos_id, jnp.int32).reshape(-1)
  if unrolled_layers and not model.unrolled_layers:
    model = model.clone(unrolled_layers=True)
    params = unstack_layers(params, model.config.num_layers)
  cache = KVCache.zeros(model.config, B, P + max_new_tokens, per_layer=model.unrolled_layers)
  positions_BP = jnp.maximum(jnp.cumsum(mask_BP, axis=1) - 1, 0)
  # Prefill all but the last prompt column, whose logits nothing reads (XLA drops their
  # [B, P, V] projection), then the last column (a real token in every left-padded row)
  # like a decoding step: only [B, 1, V] logits ever exist.
  if P > 1:
    _, cache = model.apply({"params": params}, tokens_BP[:, :-1], positions_BP[:, :-1],
                           mask_BP[:, :-1], cache=cache, cache_index=0)
  logits_B1V, cache = model.apply({"params": params}, tokens_BP[:, -1:], positions_BP[:, -1:],
                                  mask_BP[:, -1:], cache=cache, cache_index=P - 1)
  keys_B = jax.vmap(jax.random.key)(seeds_B)
  # Generated-token counts for the penalties (a dummy when they are off).
  counts_BV = jnp.zeros((B, logits_B1V.shape[-1] if processing.penalize else 1), jnp.int32)
  next_B = sampling.next_tokens(logits_B1V[:, 0], counts_BV, keys_B, 0, settings, processing)
  next_position_B = positions_BP[:, -1] + 1
  output_BT = jnp.zeros((B, max_new_tokens), jnp.int32)
  done_B = jnp.zeros((B,), bool)

  def condition(carry):
    step, _, _, _, done_B, _, _ = carry
    return (step < max_new_tokens) & ~jnp.all(done_B)

  def body(carry):
    step, next_B, cache, output_BT, done_B, position_B, counts_BV = carry
    token_B = jnp.where(done_B, 0, next_B)
    output_BT = output_BT.at[:, step].set(token_B)
    if processing.penalize:
      counts_BV = counts_BV.at[jnp.arange(B), token_B].add(jnp.where(done_B, 0, 1))
    done_B = done_B | jnp.isin(token_B, stop_ids)
    logits_B1V, cache = model.apply(
        {"params": params}, token_B[:, None], position_B[:, None], jnp.ones((B, 1), bool),
        cache=cache, cache_index=P + step,
    )
    next_B = sampling.next_tokens(logits_B1V[:, 0], counts_BV, keys_B, step + 1, settings,
                                  processing)
    return step + 1, next_B, cache, output_BT, done_B, position_B + 1, counts_BV

  carry = (jnp.int32(0), next_B, cache, output_BT, done_B, next_position_B, counts_BV)
  return jax.lax.while_loop(condition, body, carry)[3]


def greedy_generate_without_cache(
    model: Decoder, params, prompt: list[int], *, max_new_tokens: int, eos_id: int
) -> list[int]:
  """Reference decoder for tests: re-runs the whole sequence for every new token.

  The sequence is right-padded to one fixed length (one compilation); causal
  attention keeps the padding from affecting earlier positions.
  """
  length = len(prompt) + max_new_tokens
  apply = jax.jit(lambda p, t: model.apply({"params": p}, t)[0])
  tokens = list(prompt)
  generated = []
  for _ in range(max_new_tokens):
    padded = jnp.asarray([tokens + [0] * (length - len(tokens))], jnp.int32)
    token = int(jnp.argmax(apply(params, padded)[0, len(tokens) - 1]))
    generated.append(token)
    tokens.append(token)
    if token == eos_id:
      break
  return generated
