"""Per-token log-probabilities of whole sequences, with each position's top alternatives.

This is what an OpenAI completions request with `logprobs=k` returns for its tokens, and
with `echo=true` for the prompt's tokens too (lm-evaluation-harness's log-likelihood
requests: `echo=True, max_tokens=1, logprobs=1`, then it sums `token_logprobs[ctxlen:-1]`
and compares each with `max(top_logprobs[i].values())`; lm_eval/models/
openai_completions.py, `LocalCompletionsAPI._create_payload` and `parse_logprobs`, 0.4.x).
The engine's `loglikelihood` scores a continuation as a whole; a server needs every
position's top-k as well, so this module runs its own forward pass over right-padded
rows (one compilation per (rows, length bucket, k)).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from xlt_jax.models.decoder import Decoder


@dataclasses.dataclass(frozen=True)
class TokenScores:
  """Scores of one sequence's tokens.

  Attributes:
    token_logprobs: log p(token_i | tokens_<i) for i >= 1; entry 0 is None (the first
      token has no context), as the OpenAI API reports it.
    top_ids: per position, the k most likely ids (entry 0 empty), most likely first.
    top_logprobs: their log-probabilities, aligned with top_ids.
  """

  token_logprobs: list[float | None]
  top_ids: list[list[int]]
  top_logprobs: list[list[float]]


@functools.partial(jax.jit, static_argnames=("model", "k"))
def _score(model: Decoder, params, tokens_BL: jax.Array, mask_BL: jax.Array, *, k: int):
  logits_BLV, _ = model.apply({"params": params}, tokens_BL, None, mask_BL)
  logprobs_BLV = jax.nn.log_softmax(logits_BLV[:, :-1].astype(jnp.float32), axis=-1)
  chosen_BL = jnp.take_along_axis(logprobs_BLV, tokens_BL[:, 1:, None], axis=-1)[..., 0]
  top_values_BLk, top_ids_BLk = jax.lax.top_k(logprobs_BLV, k)
  return chosen_BL, top_ids_BLk, top_values_BLk


def _round_up(value: int, multiple: int) -> int:
  return -(-value // multiple) * multiple


def score_sequences(model: Decoder, params, sequences: list[list[int]], k: int = 1,
                    length_bucket: int = 64, batch_size: int = 32) -> list[TokenScores]:
  """Scores each sequence's tokens given the ones before it, in order.

  Args:
    model, params: the decoder and its parameters (under the caller's mesh context when
      they are sharded).
    sequences: token ids, each at least one token long.
    k: how many alternatives to report per position (>= 1).
    length_bucket: rows are padded to a multiple of this many tokens.
    batch_size: rows per forward pass (a short last batch is padded to it).

  Returns:
    One TokenScores per sequence; its lists are as long as the sequence.
  """
  results = []
  for start in range(0, len(sequences), batch_size):
    chunk = sequences[start:start + batch_size]
    length = _round_up(max(len(sequence) for sequence in chunk) + 1, length_bucket)
    tokens = np.zeros((batch_size, length), np.int32)
    mask = np.zeros((batch_size, length), bool)
    for row, sequence in enumerate(chunk):
      tokens[row, :len(sequence)] = sequence
      mask[row, :len(sequence)] = True
    chosen, top_ids, top_values = jax.device_get(_score(model, params, tokens, mask, k=k))
    for row, sequence in enumerate(chunk):
      n = len(sequence) - 1  # positions that have a context
      results.append(TokenScores(
          token_logprobs=[None] + chosen[row, :n].astype(float).tolist(),
          top_ids=[[]] + top_ids[row, :n].tolist(),
          top_logprobs=[[]] + top_values[row, :n].astype(float).tolist()))
  return results
