"""Masked grouped-query dot-product attention with a memory-lean backward pass.

Plain autodiff of softmax attention keeps, per layer, several [B, K, G, L, S]
intermediates (scores, the mask broadcast, exponentials, probabilities) for the
backward pass; in a scanned model each becomes a [layers, B, K, G, L, S] buffer.
For the 110M-parameter benchmark model at length 512 that was five 144 MiB stacks
per step, written in the forward pass and read back in the backward pass. The
custom VJP here keeps only what FlashAttention keeps (queries, keys, values, the
output and each query row's softmax normaliser) and recomputes the probabilities from
them, one extra [L, S] product per layer. (jax.nn.dot_product_attention's XLA
implementation differentiates through the same intermediates, and its cuDNN
implementation exists only on GPUs, so this file writes the backward pass itself.)

Shape letters: B batch, L queries, S keys, K key/value heads, G query heads per
key/value head, H head dim.
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp

# Scores of masked positions. Finite, so that a row with no visible key (a padding
# query) gets uniform weights instead of NaNs; no real score comes near it.
MASKED_SCORE = -1e30


def _heads_first(x_BLKGH):
  """[B, L, K, G, H] -> [B, K, G, L, H]: every product below is then a plain batched
  matmul over (B, K), which XLA's CPU dot kernels run without relayout copies."""
  return jnp.transpose(x_BLKGH, (0, 2, 3, 1, 4))


def _masked_scores(query_BKGLH, key_BKSH, mask_BLS, scale):
  scores_BKGLS = jnp.einsum("bkglh,bksh->bkgls", query_BKGLH, key_BKSH,
                            preferred_element_type=jnp.float32) * scale
  return jnp.where(mask_BLS[:, None, None], scores_BKGLS, MASKED_SCORE)


def _kept_fraction_BKGLS(dropout_rate, dropout_key, shape):
  """The attention-dropout multiplier of every probability: 0 where dropped, else
  1 / (1 - rate) (inverted dropout, as torch's nn.Dropout in Hugging Face's attention).
  The backward pass calls it again with the same key: the masks are never stored."""
  keep = jax.random.bernoulli(dropout_key, 1.0 - dropout_rate, shape)
  return jnp.where(keep, 1.0 / (1.0 - dropout_rate), 0.0).astype(jnp.float32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def dot_product_attention(query_BLKGH: jax.Array, key_BSKH: jax.Array, value_BSKH: jax.Array,
                          mask_BLS: jax.Array, scale: float, dtype: Any,
                          dropout_rate: float = 0.0,
                          dropout_key: jax.Array | None = None) -> jax.Array:
  """softmax(scale * q k^T, masked) v for every query head, in [B, L, K, G, H].

  Scores, softmax and both products accumulate in float32; the probabilities are
  rounded to `dtype` before the value product (as in the forward pass of any
  bfloat16 transformer). Gradients equal those of the plain formulation up to
  float32 rounding, in every dtype; the mask gets no gradient.

  With dropout_rate > 0 (training only; `dropout_key` required) the probabilities are
  dropped out before the value product, as Hugging Face's `attention_dropout` does:
  each kept with probability 1 - rate and scaled by 1 / (1 - rate), the same masks for
  the same key. dropout_rate 0 is exactly the computation without dropout.
  """
  return _forward(query_BLKGH, key_BSKH, value_BSKH, mask_BLS, scale, dtype, dropout_rate,
                  dropout_key)[0]


def _forward(query_BLKGH, key_BSKH, value_BSKH, mask_BLS, scale, dtype, dropout_rate=0.0,
             dropout_key=None):
  query_BKGLH = _heads_first(query_BLKGH)
  key_BKSH, value_BKSH = (jnp.transpose(x, (0, 2, 1, 3)) for x in (key_BSKH, value_BSKH))
  scores_BKGLS = _masked_scores(query_BKGLH, key_BKSH, mask_BLS, scale)
  maximum_BKGL = jnp.max(scores_BKGLS, axis=-1)
  exponentials = jnp.exp(scores_BKGLS - maximum_BKGL[..., None])
  total_BKGL = jnp.sum(exponentials, axis=-1)
  probabilities = exponentials / total_BKGL[..., None]
  if dropout_rate:
    probabilities = probabilities * _kept_fraction_BKGLS(dropout_rate, dropout_key,
                                                         probabilities.shape)
  probabilities = probabilities.astype(dtype)
  output_BKGLH = jnp.einsum("bkgls,bksh->bkglh", probabilities, value_BKSH,
                            preferred_element_type=jnp.float32).astype(dtype)
  # Kept apart rather than summed into one log-sum-exp: in a row with no visible key
  # every score is MASKED_SCORE, and -1e30 + log(S) rounds back to -1e30.
  normalizer = (maximum_BKGL, jnp.log(total_BKGL))
  # Keys also in [B, K, H, S], for the query gradient's product: transposed inside the
  # backward pass, XLA would fold the transpose into that product, a form its CPU
  # backend runs only in float32.
  key_BKHS = jnp.swapaxes(key_BKSH, 2, 3)
  residuals = (query_BKGLH, key_BKSH, key_BKHS, value_BKSH, mask_BLS, output_BKGLH, normalizer,
               dropout_key)
  return jnp.transpose(output_BKGLH, (0, 3, 1, 2, 4)), residuals


def _attention_backward(scale, dtype, dropout_rate, residuals, output_cotangent_BLKGH):
  # Works on transposed scores, [B, K, S, M] with M = (G, L) the query rows, so that
  # no [M, S]-sized array is ever transposed for a product: every big product below
  # contracts the minor axis of its first operand or the major axis of its second,
  # the layouts XLA's CPU matmul takes as they are; only [S, H] and [M, H] arrays move.
  (query_BKGLH, key_BKSH, key_BKHS, value_BKSH, mask_BLS, output_BKGLH, normalizer,
   dropout_key) = residuals
  maximum_BKGL, log_total_BKGL = normalizer
  B, K, G, L, H = query_BKGLH.shape
  query_BKMH = query_BKGLH.reshape(B, K, G * L, H)
  output_cotangent_BKMH = _heads_first(output_cotangent_BLKGH.astype(dtype)).reshape(
      B, K, G * L, H)
  mask_B1SM = jnp.broadcast_to(jnp.swapaxes(mask_BLS, 1, 2)[:, None, :, None, :],
                               (B, 1, mask_BLS.shape[2], G, L)).reshape(B, 1, -1, G * L)
  scores_BKSM = jnp.einsum("bksh,bkmh->bksm", key_BKSH, query_BKMH,
                           preferred_element_type=jnp.float32) * scale
  scores_BKSM = jnp.where(mask_B1SM, scores_BKSM, MASKED_SCORE)
  # The forward pass's probabilities, recomputed: masked positions come out 0 (exp of
  # about -1e30), and a row with no visible key uniform, as in the forward pass.
  probabilities_BKSM = jnp.exp(scores_BKSM - maximum_BKGL.reshape(B, K, 1, G * L)
                               - log_total_BKGL.reshape(B, K, 1, G * L))
  probability_grad_BKSM = jnp.einsum("bksh,bkmh->bksm", value_BKSH, output_cotangent_BKMH,
                                     preferred_element_type=jnp.float32)
  dropped_BKSM = probabilities_BKSM
  if dropout_rate:
    # The forward pass's masks, regenerated from the key and laid out as [B, K, S, M].
    kept_BKGLS = _kept_fraction_BKGLS(dropout_rate, dropout_key, (B, K, G, L, mask_BLS.shape[2]))
    kept_BKSM = jnp.transpose(kept_BKGLS, (0, 1, 4, 2, 3)).reshape(B, K, -1, G * L)
    dropped_BKSM = probabilities_BKSM * kept_BKSM
    # The gradient reaching the softmax goes through the dropout multiplier.
    probability_grad_BKSM = probability_grad_BKSM * kept_BKSM
  value_grad_BKSH = jnp.einsum("bksm,bkmh->bksh", dropped_BKSM.astype(dtype),
                               output_cotangent_BKMH, preferred_element_type=jnp.float32)
  # d softmax: p * (dp - sum_s p dp), where sum_s p dp = sum_h dout * out (with dropout
  # too: out = sum_s p kept v, so sum_h dout * out = sum_s p (kept dout . v)).
  row_dot_BKM = jnp.sum(output_cotangent_BKMH.astype(jnp.float32)
                        * output_BKGLH.reshape(B, K, G * L, H).astype(jnp.float32), axis=-1)
  score_grad_BKSM = probabilities_BKSM * (probability_grad_BKSM - row_dot_BKM[:, :, None, :])
  # Masked scores are constants: no gradient reaches queries or keys through them
  # (this matters only in rows with no visible key, where probabilities are not 0).
  score_grad_BKSM = jnp.where(mask_B1SM, score_grad_BKSM * scale, 0.0).astype(dtype)
  key_grad_BKSH = jnp.einsum("bksm,bkmh->bksh", score_grad_BKSM, query_BKMH,
                             preferred_element_type=jnp.float32)
  query_grad_BKHM = jnp.einsum("bkhs,bksm->bkhm", key_BKHS, score_grad_BKSM,
                               preferred_element_type=jnp.float32)
  query_grad_BLKGH = jnp.transpose(query_grad_BKHM.reshape(B, K, H, G, L), (0, 4, 1, 3, 2))
  key_value_layout = (0, 2, 1, 3)  # [B, K, S, H] -> [B, S, K, H]
  return (query_grad_BLKGH.astype(query_BKGLH.dtype),
          jnp.transpose(key_grad_BKSH, key_value_layout).astype(key_BKSH.dtype),
          jnp.transpose(value_grad_BKSH, key_value_layout).astype(value_BKSH.dtype), None, None)


dot_product_attention.defvjp(_forward, _attention_backward)


def cached_attention(query_BLKGH: jax.Array, key_BKSH: jax.Array, value_BKSH: jax.Array,
                     mask_BLS: jax.Array, scale: float, dtype: Any) -> jax.Array:
  """`dot_product_attention`'s forward pass over keys and values already heads-first
  (a KV cache's layout), for inference: the same products, float32 accumulation and
  rounding, no dropout. Returns [B, L, K, G, H]."""
  query_BKGLH = _heads_first(query_BLKGH)
  scores_BKGLS = _masked_scores(query_BKGLH, key_BKSH, mask_BLS, scale)
  probabilities = jax.nn.softmax(scores_BKGLS, axis=-1).astype(dtype)
  output_BKGLH = jnp.einsum("bkgls,bksh->bkglh", probabilities, value_BKSH,
                            preferred_element_type=jnp.float32).astype(dtype)
  return jnp.transpose(output_BKGLH, (0, 3, 1, 2, 4))
