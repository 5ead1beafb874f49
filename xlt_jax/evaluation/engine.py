"""The inference engine: one object for evaluation, checkpoint selection, judges and serving.

    engine = InferenceEngine(model, params, vocabulary, stop_ids=(eos, end_of_turn))
    engine.generate([prompt_ids], SamplingParams(temperature=0.7, n=3))
    engine.loglikelihood([(context_ids, continuation_ids)])

Generation is `decoding.generate_tokens`: a batched prefill and a KV cache inside one
jitted while-loop, greedy or sampled (`sampling`: vLLM's penalties, temperature,
top-k and top-p). Prompts are sorted by length and cut into batches of a fixed size
whose length is rounded up to `length_bucket`, so a handful of shapes compile; the last
batch is padded. Stop ids end a row inside the loop (the loop ends once every row has
ended); stop strings are checked on the decoded text afterwards.

Log-likelihoods follow lm-evaluation-harness 0.4.13's `hf` backend
(`lm_eval/models/huggingface.py` `HFLM._loglikelihood_tokens`): the model reads
`(context + continuation)[-(max_length + 1):][:-1]` and the continuation's tokens are
scored from the last `len(continuation)` positions; `is_greedy` is "every continuation
token is the argmax". `loglikelihood_rolling` cuts a text into the disjoint windows of
`lm_eval/utils.py` `get_rolling_token_windows` (context_len=1) and
`make_disjoint_window`, the first window conditioned on lm-eval's prefix token (BOS,
else EOS: `HFLM.prefix_token_id`).
"""

import contextlib
import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import sampling
from xlt_jax.evaluation.decoding import generate_tokens, left_pad
from xlt_jax.models.decoder import Decoder
from xlt_jax.models.kv_cache import KVCache
from xlt_jax.training import sharding

STOP, LENGTH = "stop", "length"


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """How to generate: vLLM's sampling parameters, the subset the studies use."""

  max_new_tokens: int = 256
  temperature: float = 0.0  # 0: greedy (argmax); below 1e-5 counts as 0, as in vLLM
  top_p: float = 1.0
  top_k: int = 0  # 0: no top-k
  frequency_penalty: float = 0.0  # vLLM semantics (OpenAI's): logit -= f * count(token in output)
  presence_penalty: float = 0.0  # logit -= p * (count > 0)
  stop: tuple[str, ...] = ()  # stop strings: the text ends before the first one
  n: int = 1  # samples per prompt
  seed: int = 0  # sample i of a prompt draws with seed + i (reproducible)

  def check(self) -> None:
    """Raises UserInputError naming the first setting out of its range."""
    problems = [
        (self.max_new_tokens < 1, f"max_new_tokens must be >= 1, not {self.max_new_tokens}"),
        (self.temperature < 0, f"temperature must be >= 0, not {self.temperature}"),
        (not 0 < self.top_p <= 1, f"top_p must be in (0, 1], not {self.top_p}"),
        (self.top_k < 0, f"top_k must be >= 0 (0: off), not {self.top_k}"),
        (self.n < 1, f"n must be >= 1, not {self.n}"),
        (not 0 <= self.seed < 2**32 - self.n, f"seed must be in [0, 2**32 - n), not {self.seed}"),
        (any(not stop for stop in self.stop), "stop strings must not be empty"),
        (isinstance(self.stop, str), f"stop must be a tuple of strings, not {self.stop!r}"),
    ]
    for wrong, message in problems:
      if wrong:
        raise UserInputError(f"SamplingParams: {message}")

  def processing(self) -> sampling.Processing:
    sample = self.temperature >= sampling.GREEDY_TEMPERATURE
    return sampling.Processing(
        sample=sample, penalize=bool(self.frequency_penalty or self.presence_penalty),
        top_k=sample and self.top_k > 0, top_p=sample and self.top_p < 1.0)

  def settings(self) -> sampling.Settings:
    return sampling.Settings(
        temperature=jnp.float32(max(self.temperature, sampling.GREEDY_TEMPERATURE)),
        top_p=jnp.float32(self.top_p), top_k=jnp.int32(self.top_k),
        frequency_penalty=jnp.float32(self.frequency_penalty),
        presence_penalty=jnp.float32(self.presence_penalty))


@dataclasses.dataclass(frozen=True)
class Completion:
  """One generated continuation."""

  token_ids: tuple[int, ...]  # generated ids, without the stop id
  text: str  # decoded, cut before a stop string
  finish_reason: str  # "stop" (EOS / end-of-turn id / stop string) or "length"


@dataclasses.dataclass(frozen=True)
class Loglikelihood:
  """The score of one continuation given its context."""

  logprob: float  # sum of log P(continuation tokens | context)
  is_greedy: bool  # every continuation token is the argmax (lm-eval's is_greedy)
  token_logprobs: tuple[float, ...]


LENGTH_BUCKET = 64  # prompt lengths are rounded up to a multiple of this by default


def _round_up(value: int, multiple: int) -> int:
  return -(-value // multiple) * multiple


def padded_length(length: int, length_bucket: int, max_length: int) -> int:
  """The padded length of a batch whose longest row has `length` tokens: rounded up to
  `length_bucket`, at most `max_length`."""
  return min(_round_up(length, length_bucket), max_length)


@functools.partial(jax.jit, static_argnames=("model", "scored"))
def target_logprobs(model: Decoder, params, tokens_BL, mask_BL, targets_BL, *, scored: int):
  """log P(target | the tokens up to it) at the last `scored` positions of left-padded
  rows, and whether each target is the argmax: [B, scored] each.

  The positions before them only fill a KV cache (their logits are dead code), so a
  batch never holds more than [B, scored, V] logits: for a 256k vocabulary, batch 32 and
  2048 tokens, all positions' logits alone would be 64 GB in float32.
  """
  B, L = tokens_BL.shape
  positions_BL = jnp.maximum(jnp.cumsum(mask_BL, axis=1) - 1, 0)
  cache = KVCache.zeros(model.config, B, L)
  split = L - scored
  if split > 0:
    _, cache = model.apply({"params": params}, tokens_BL[:, :split], positions_BL[:, :split],
                           mask_BL[:, :split], cache=cache, cache_index=0)
  logits_BCV, _ = model.apply({"params": params}, tokens_BL[:, split:], positions_BL[:, split:],
                              mask_BL[:, split:], cache=cache, cache_index=split)
  targets_BC = targets_BL[:, split:]
  logprobs_BCV = jax.nn.log_softmax(logits_BCV, axis=-1)
  target_BC = jnp.take_along_axis(logprobs_BCV, targets_BC[..., None], axis=-1)[..., 0]
  return target_BC, jnp.argmax(logits_BCV, axis=-1) == targets_BC


class InferenceEngine:
  """Batched generation and scoring with one model, its parameters and its vocabulary."""

  def __init__(self, model: Decoder, params, vocabulary, *, stop_ids: tuple[int, ...],
               mesh: jax.sharding.Mesh | None = None, batch_size: int = 32,
               length_bucket: int = LENGTH_BUCKET, max_length: int = 2048,
               unrolled_layers: bool | None = None):
    """
    Args:
      vocabulary: one of `xlt_jax.models.vocabularies`' kinds (encode, decode, eos_id).
      stop_ids: the ids that end a completion (EOS, the chat family's end-of-turn id).
      mesh: the training mesh to decode under (rows split over its batch axes);
        None: the default device.
      batch_size: rows per compiled batch (a multiple of the mesh's batch shards).
      length_bucket: prompt lengths are rounded up to a multiple of this.
      max_length: the longest sequence the model reads (lm-eval's `max_length`, 2048
        by default as there): log-likelihood inputs are cut to it from the left,
        rolling windows have this length, and prompt + new tokens must fit in it.
      unrolled_layers: decode with one compiled module per layer
        (`decoding.generate_tokens`); None: when the devices are CPUs, where it is
        2-3x faster.

    Raises:
      UserInputError: a batch size the mesh cannot split, or a non-positive size.
    """
    if batch_size < 1 or length_bucket < 1 or max_length < 2:
      raise UserInputError(f"InferenceEngine: batch_size ({batch_size}), length_bucket "
                           f"({length_bucket}) and max_length ({max_length}) must be positive")
    if mesh is not None and batch_size % sharding.batch_shard_count(mesh):
      raise UserInputError(f"InferenceEngine: batch_size {batch_size} is not a multiple of the "
                           f"mesh's {sharding.batch_shard_count(mesh)} batch shards")
    self.model, self.params, self.vocabulary = model, params, vocabulary
    self.stop_ids = tuple(int(token) for token in stop_ids)
    self.mesh, self.batch_size = mesh, batch_size
    self.length_bucket, self.max_length = length_bucket, max_length
    if unrolled_layers is None:
      devices = mesh.devices.flat if mesh is not None else jax.devices()[:1]
      unrolled_layers = all(device.platform == "cpu" for device in devices)
    self.unrolled_layers = unrolled_layers

  def _context(self):
    if self.mesh is None:
      return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(jax.sharding.set_mesh(self.mesh))
    stack.enter_context(sharding.axis_rules())
    return stack

  def _batches(self, lengths: Sequence[int]):
    """Row indices in batches of batch_size, longest first, with each batch's padded
    length (the longest row rounded up to length_bucket, capped at max_length)."""
    order = sorted(range(len(lengths)), key=lambda row: -lengths[row])
    for start in range(0, len(order), self.batch_size):
      rows = order[start:start + self.batch_size]
      yield rows, padded_length(lengths[rows[0]], self.length_bucket, self.max_length)

  def _pad_rows(self, token_lists: list[list[int]], length: int):
    padded = token_lists + [[0]] * (self.batch_size - len(token_lists))
    return left_pad(padded, length)

  @staticmethod
  def _gather(array: jax.Array) -> np.ndarray:
    if not array.is_fully_addressable:  # rows live on other hosts' devices too
      array = multihost_utils.process_allgather(array, tiled=True)
    return np.asarray(array)

  def generate(self, prompts: Sequence[Sequence[int]],
               sampling_params: SamplingParams) -> list[list[Completion]]:
    """Completions of each prompt: per prompt, `n` completions in sample order.

    Sample i of every prompt draws with seed + i, so a completion depends only on its
    prompt, its seed and the settings, not on the other prompts or the batching.

    Raises:
      UserInputError: a bad setting, an empty prompt, or a prompt that with
        max_new_tokens does not fit in max_length.
    """
    sampling_params.check()
    for index, prompt in enumerate(prompts):
      if not prompt:
        raise UserInputError(f"generate: prompt {index} is empty")
      if len(prompt) + sampling_params.max_new_tokens > self.max_length:
        raise UserInputError(
            f"generate: prompt {index} has {len(prompt)} tokens; with max_new_tokens "
            f"{sampling_params.max_new_tokens} it exceeds max_length {self.max_length}")
    rows = [(prompt, sample) for prompt in range(len(prompts))
            for sample in range(sampling_params.n)]
    settings, processing = sampling_params.settings(), sampling_params.processing()
    results: list[list[Completion | None]] = [[None] * sampling_params.n for _ in prompts]
    with self._context():
      for batch, length in self._batches([len(prompts[prompt]) for prompt, _ in rows]):
        tokens, mask = self._pad_rows([list(prompts[rows[row][0]]) for row in batch], length)
        seeds = np.zeros((self.batch_size,), np.uint32)
        seeds[:len(batch)] = [sampling_params.seed + rows[row][1] for row in batch]
        generated = self._gather(generate_tokens(
            self.model, self.params, tokens, mask, seeds, settings,
            max_new_tokens=sampling_params.max_new_tokens, eos_id=self.stop_ids or -1,
            processing=processing, unrolled_layers=self.unrolled_layers))
        for row, ids in zip(batch, generated[:len(batch)].tolist()):
          prompt, sample = rows[row]
          results[prompt][sample] = self._completion(ids, sampling_params.stop)
    return results

  def _completion(self, ids: list[int], stop: tuple[str, ...]) -> Completion:
    """The completion of one generated row: cut at its first stop id, then before the
    stop string that starts first in the text, keeping the generated tokens up to the
    one that completes that string (vLLM keeps them too)."""
    end = next((index for index, token in enumerate(ids) if token in self.stop_ids), None)
    reason = LENGTH if end is None else STOP
    ids = ids if end is None else ids[:end]
    text = self.vocabulary.decode(ids)
    found = [(text.find(string), -len(string)) for string in stop if string in text]
    if not found:
      return Completion(tuple(ids), text, reason)
    cut, minus_length = min(found)  # the earliest start; of those, the longest string
    through_stop = text[:cut - minus_length]
    low, high = 1, len(ids)  # the fewest tokens whose text reaches past the stop string
    while low < high:
      middle = (low + high) // 2
      if self.vocabulary.decode(ids[:middle]).startswith(through_stop):
        high = middle
      else:
        low = middle + 1
    return Completion(tuple(ids[:low]), text[:cut], STOP)

  def loglikelihood(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]
                    ) -> list[Loglikelihood]:
    """log P(continuation | context) for each (context ids, continuation ids), in order.

    Raises:
      UserInputError: an empty context (pass a prefix token, as lm-eval passes BOS or
        EOS for an empty context), an empty continuation, or one longer than max_length.
    """
    inputs, targets = [], []
    for index, (context, continuation) in enumerate(requests):
      if not context or not continuation:
        raise UserInputError(
            f"loglikelihood: request {index} has an empty "
            f"{'context (begin it with BOS or EOS)' if not context else 'continuation'}")
      if len(continuation) > self.max_length:
        raise UserInputError(f"loglikelihood: request {index}'s continuation has "
                             f"{len(continuation)} tokens, more than max_length {self.max_length}")
      whole = (list(context) + list(continuation))[-(self.max_length + 1):]
      inputs.append(whole[:-1])
      targets.append(whole[1:])
    results: list[Loglikelihood | None] = [None] * len(requests)
    with self._context():
      for batch, length in self._batches([len(tokens) for tokens in inputs]):
        tokens, mask = self._pad_rows([inputs[row] for row in batch], length)
        target_tokens, _ = self._pad_rows([targets[row] for row in batch], length)
        # Scored positions: the batch's longest continuation rounded up to a power of
        # two (few shapes compile).
        longest = max(len(requests[row][1]) for row in batch)
        scored = min(1 << (longest - 1).bit_length(), length)
        logprobs, greedy = target_logprobs(self.model, self.params, tokens, mask,
                                           target_tokens, scored=scored)
        logprobs, greedy = self._gather(logprobs), self._gather(greedy)
        for position, row in enumerate(batch):
          count = len(requests[row][1])
          token_logprobs = tuple(float(value) for value in logprobs[position, -count:])
          results[row] = Loglikelihood(logprob=float(np.sum(logprobs[position, -count:],
                                                            dtype=np.float64)),
                                       is_greedy=bool(greedy[position, -count:].all()),
                                       token_logprobs=token_logprobs)
    return results

  def prefix_id(self) -> int:
    """What an empty context stands for: BOS where the vocabulary has one, else EOS
    (lm-eval's `HFLM.prefix_token_id`)."""
    bos = getattr(self.vocabulary, "bos_id", None)
    return bos if bos is not None else self.vocabulary.eos_id

  def loglikelihood_rolling(self, token_ids: Sequence[int]) -> float:
    """Total log-likelihood of a whole text (for perplexity), in lm-eval's disjoint
    rolling windows of max_length predicted tokens: the first conditioned on the prefix
    token, each full later one on the one token before it, and a shorter last one on as
    many earlier tokens as fill max_length ("the last input will still [have] a
    full-sized context", lm-eval's `LM.loglikelihood_rolling`). An empty text scores 0."""
    windows = self.rolling_windows(token_ids)
    return sum(result.logprob for result in self.loglikelihood(windows)) if windows else 0.0

  def rolling_windows(self, token_ids: Sequence[int]) -> list[tuple[list[int], list[int]]]:
    """The (context, continuation) requests `loglikelihood_rolling` scores a text by; their
    log-likelihoods sum to its total (callers batch the windows of many texts at once)."""
    tokens, window = list(token_ids), self.max_length
    windows = []
    for start in range(0, len(tokens), window):
      end = min(start + window, len(tokens))
      context = [self.prefix_id()] if start == 0 else tokens[end - window - 1:start]
      windows.append((context, tokens[start:end]))
    return windows
