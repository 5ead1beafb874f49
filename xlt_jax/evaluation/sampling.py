"""Logits processors of the inference engine, with vLLM's semantics.

vLLM is the reference because it is what the studies' papers sampled with and what the
OpenAI-compatible servers they call implement. Read in vllm-project/vllm:
- `vllm/v1/sample/sampler.py` (Sampler's docstring): penalties on the raw logits, then
  greedy (argmax of the penalised logits) when the temperature is below 1e-5, else
  divide by the temperature, apply top-k and top-p, and draw from the softmax.
- `vllm/model_executor/layers/utils.py` `apply_penalties` ("We follow the definition in
  OpenAI API", platform.openai.com/docs/api-reference/parameter-details):
  `logits -= frequency * output_bin_counts; logits -= presence * output_mask`, counts
  over the generated tokens only (never the prompt).
- `vllm/v1/sample/ops/topk_topp_sampler.py` `apply_top_k_top_p_pytorch`: top-k keeps
  every logit >= the k-th largest (ties at the boundary survive); top-p sorts ascending,
  masks every token whose cumulative probability is <= 1 - p and always keeps the most
  likely token. Top-p renormalises over what top-k kept.

Every function works on a batch [B, V] of float32 logits with scalar settings shared by
the batch (one `SamplingParams` per engine call), and traces under `jax.jit`.
"""

import dataclasses

import jax
import jax.numpy as jnp

# vLLM's _SAMPLING_EPS: a temperature below it means greedy decoding.
GREEDY_TEMPERATURE = 1e-5


@dataclasses.dataclass(frozen=True)
class Processing:
  """Which processors run (static under jit: each combination compiles once).

  sample: draw from the distribution (else argmax); penalize: apply frequency and
  presence penalties; top_k / top_p: apply that filter (only when sampling).
  """

  sample: bool = False
  penalize: bool = False
  top_k: bool = False
  top_p: bool = False


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Settings:
  """The processors' values, traced (changing them does not recompile)."""

  temperature: jax.Array
  top_p: jax.Array
  top_k: jax.Array
  frequency_penalty: jax.Array
  presence_penalty: jax.Array


def apply_penalties(logits_BV: jax.Array, counts_BV: jax.Array, frequency: jax.Array,
                    presence: jax.Array) -> jax.Array:
  """logits - frequency * count - presence * (count > 0), counts of generated tokens."""
  return (logits_BV - frequency * counts_BV.astype(logits_BV.dtype)
          - presence * (counts_BV > 0).astype(logits_BV.dtype))


def apply_top_k(logits_BV: jax.Array, k: jax.Array) -> jax.Array:
  """-inf on every logit below the k-th largest of its row; k <= 0 or k >= V keeps all."""
  V = logits_BV.shape[-1]
  k = jnp.where((k <= 0) | (k > V), V, k)
  descending_BV = -jnp.sort(-logits_BV, axis=-1)
  threshold_B1 = jax.lax.dynamic_slice_in_dim(descending_BV, k - 1, 1, axis=-1)
  return jnp.where(logits_BV < threshold_B1, -jnp.inf, logits_BV)


def apply_top_p(logits_BV: jax.Array, p: jax.Array) -> jax.Array:
  """-inf outside each row's nucleus: in ascending order of probability, the tokens whose
  cumulative probability is <= 1 - p go, and the most likely token always stays."""
  B, V = logits_BV.shape
  order_BV = jnp.argsort(logits_BV, axis=-1)  # ascending, as vLLM sorts
  ascending_BV = jnp.take_along_axis(logits_BV, order_BV, axis=-1)
  cumulative_BV = jnp.cumsum(jax.nn.softmax(ascending_BV, axis=-1), axis=-1)
  drop_BV = (cumulative_BV <= 1 - p).at[:, -1].set(False)
  rows_B1 = jnp.arange(B)[:, None]
  drop_BV = jnp.zeros((B, V), bool).at[rows_B1, order_BV].set(drop_BV)
  return jnp.where(drop_BV, -jnp.inf, logits_BV)


def processed_logits(logits_BV: jax.Array, counts_BV: jax.Array | None, settings: Settings,
                     processing: Processing) -> jax.Array:
  """The logits a token is drawn from (sampling) or the argmax is taken of (greedy)."""
  logits_BV = logits_BV.astype(jnp.float32)
  if processing.penalize:
    logits_BV = apply_penalties(logits_BV, counts_BV, settings.frequency_penalty,
                                settings.presence_penalty)
  if not processing.sample:
    return logits_BV
  logits_BV = logits_BV / settings.temperature
  if processing.top_k:
    logits_BV = apply_top_k(logits_BV, settings.top_k)
  if processing.top_p:
    logits_BV = apply_top_p(logits_BV, settings.top_p)
  return logits_BV


def next_tokens(logits_BV: jax.Array, counts_BV: jax.Array | None, keys_B: jax.Array,
                step: jax.Array, settings: Settings, processing: Processing) -> jax.Array:
  """One token per row: argmax, or a draw with the row's key folded with the step.

  A row's draws depend only on its own key and the step, never on the batch it sits in,
  so a sample is reproducible from its seed however prompts are batched.
  """
  logits_BV = processed_logits(logits_BV, counts_BV, settings, processing)
  if not processing.sample:
    return jnp.argmax(logits_BV, axis=-1).astype(jnp.int32)
  step_keys_B = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys_B, step)
  return jax.vmap(jax.random.categorical)(step_keys_B, logits_BV).astype(jnp.int32)
