"""One served checkpoint: OpenAI requests in, engine calls through the batcher, choices out.

Prompts are token ids as the model saw them in training: a text prompt is the
tokenizer's sequence start (BOS where it adds one) and the text, as vLLM encodes a
completions prompt with special tokens; a chat request is rendered by the checkpoint's
chat family (`chat_templates.prompt_ids`, the official template with its generation
prompt); token-id prompts are used as sent. Generation stops at EOS and the family's
end-of-turn token (`LoadedModel.stop_ids`) and at the request's stop strings.

Streaming sends the text of each completion in pieces that concatenate to exactly the
non-streamed text; the engine returns a whole batch at once, so the pieces are sent
when the completion is done (time to first token is the whole completion's time).
"""

import dataclasses
from collections.abc import Iterator

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation.engine import Completion, InferenceEngine, SamplingParams
from xlt_jax.evaluation.model_loading import LoadedModel
from xlt_jax.evaluation.sampling import GREEDY_TEMPERATURE
from xlt_jax.models import chat_templates
from xlt_jax.serving import protocol, scoring
from xlt_jax.serving.batcher import DynamicBatcher
from xlt_jax.serving.protocol import ApiError


@dataclasses.dataclass(frozen=True)
class ServerConfig:
  """How the server batches and what it accepts.

  Attributes:
    max_wait_ms: how long a request waits for others to share its batch.
    max_batch_rows: most prompts in one engine call.
    max_model_len: longest prompt + completion accepted (tokens).
    default_max_tokens: a chat request's max_tokens when it sets none.
    engine_batch_size, length_bucket: the engine's (prompts per compiled batch, and
      the multiple prompt lengths are padded to).
  """

  max_wait_ms: float = 5.0
  max_batch_rows: int = 64
  max_model_len: int = 4096
  default_max_tokens: int = 256
  engine_batch_size: int = 32
  length_bucket: int = 64


class ModelService:
  """Answers completion and chat requests for one loaded checkpoint."""

  def __init__(self, loaded: LoadedModel, config: ServerConfig = ServerConfig()):
    self.loaded, self.config = loaded, config
    self.name = loaded.name
    self.engine = InferenceEngine(
        loaded.model, loaded.params, loaded.vocabulary, stop_ids=loaded.stop_ids,
        mesh=loaded.mesh, batch_size=config.engine_batch_size,
        length_bucket=config.length_bucket, max_length=config.max_model_len)
    self.batcher = DynamicBatcher(self.engine.generate, self.score,
                                  max_wait_s=config.max_wait_ms / 1000,
                                  max_batch_rows=config.max_batch_rows)

  def score(self, sequences: list[list[int]], k: int) -> list[scoring.TokenScores]:
    """Each sequence's token log-probabilities with k alternatives (under the run's mesh)."""
    import jax

    from xlt_jax.training import sharding

    def run():
      return scoring.score_sequences(self.loaded.model, self.loaded.params, sequences, k,
                                     self.config.length_bucket, self.config.engine_batch_size)

    if self.loaded.mesh is None:
      return run()
    with jax.sharding.set_mesh(self.loaded.mesh), sharding.axis_rules():
      return run()

  def check_model(self, model: str | None) -> None:
    if model is not None and model != self.name:
      raise ApiError(404, f"The model `{model}` does not exist; this server serves"
                     f" `{self.name}`", "model", code="model_not_found")

  def _token(self, token_id: int) -> str:
    return self.loaded.vocabulary.decode([token_id])

  def _check_ids(self, ids: list[int], max_tokens: int) -> None:
    vocab_size = self.loaded.model.config.vocab_size
    if any(not 0 <= token < vocab_size for token in ids):
      raise ApiError(400, f"prompt holds token ids outside [0, {vocab_size})", "prompt")
    if len(ids) + max_tokens > self.config.max_model_len:
      raise ApiError(400, f"This model's maximum context length is {self.config.max_model_len}"
                     f" tokens; the prompt has {len(ids)} and max_tokens is {max_tokens}",
                     "max_tokens", code="context_length_exceeded")

  def _sampling(self, sampling: protocol.Sampling) -> SamplingParams:
    greedy = sampling.temperature < GREEDY_TEMPERATURE
    # Greedy decoding ignores seed, top-p and top-k: equal values let greedy requests that
    # differ only in them (lm-eval sends seed 1234, others none) share a batch.
    return SamplingParams(
        max_new_tokens=sampling.max_tokens, temperature=sampling.temperature,
        top_p=1.0 if greedy else sampling.top_p, top_k=0 if greedy else sampling.top_k,
        frequency_penalty=sampling.frequency_penalty,
        presence_penalty=sampling.presence_penalty, stop=sampling.stop, n=sampling.n,
        seed=0 if greedy else sampling.seed)

  async def _generate(self, prompts: list[list[int]],
                      sampling: protocol.Sampling) -> list[list[Completion]]:
    for ids in prompts:
      self._check_ids(ids, sampling.max_tokens)
    if sampling.max_tokens == 0:  # echo only: nothing to generate
      return [[Completion(token_ids=[], text="", finish_reason="length")] * sampling.n
              for _ in prompts]
    return await self.batcher.generate(prompts, self._sampling(sampling))

  # /v1/completions

  def _prompt_ids(self, prompt: str | list[int]) -> list[int]:
    if isinstance(prompt, str):
      return list(self.loaded.start_ids) + list(self.loaded.vocabulary.encode(prompt))
    return list(prompt)

  def _logprobs(self, scores: scoring.TokenScores, ids: list[int], first: int,
                text_start: int) -> dict:
    """OpenAI's `logprobs` object for positions first.. of a scored sequence."""
    tokens = [self._token(token) for token in ids[first:]]
    top = []
    for position in range(first, len(ids)):
      alternatives = {}
      for token, value in zip(scores.top_ids[position], scores.top_logprobs[position]):
        alternatives.setdefault(self._token(token), value)  # two ids may print alike
      top.append(alternatives or None)
    offsets, offset = [], text_start
    for token in tokens:
      offsets.append(offset)
      offset += len(token)
    return {"tokens": tokens, "token_logprobs": scores.token_logprobs[first:],
            "top_logprobs": top, "text_offset": offsets}

  async def complete(self, request: protocol.CompletionRequest) -> tuple[list[dict], dict]:
    """(choices, usage) of a completions request, choices ordered prompt by prompt."""
    prompt_ids = [self._prompt_ids(prompt) for prompt in request.prompts]
    completions = await self._generate(prompt_ids, request.sampling)
    scores = None
    if request.logprobs is not None:
      sequences = [ids + list(completion.token_ids)
                   for ids, per_prompt in zip(prompt_ids, completions) for completion in per_prompt]
      scores = iter(await self.batcher.score(sequences, max(request.logprobs, 1)))
    choices, generated = [], 0
    for prompt, ids, per_prompt in zip(request.prompts, prompt_ids, completions):
      prompt_text = prompt if isinstance(prompt, str) else self.loaded.vocabulary.decode(ids)
      for completion in per_prompt:
        generated += len(completion.token_ids)
        choice = {"index": len(choices),
                  "text": (prompt_text if request.echo else "") + completion.text,
                  "logprobs": None, "finish_reason": completion.finish_reason,
                  "token_ids": list(completion.token_ids)}  # for streaming; not sent
        if scores is not None:
          sequence = ids + list(completion.token_ids)
          first = 0 if request.echo else len(ids)
          choice["logprobs"] = self._logprobs(next(scores), sequence, first,
                                              0 if request.echo else len(prompt_text))
        choices.append(choice)
    return choices, protocol.usage(sum(len(ids) for ids in prompt_ids), generated)

  # /v1/chat/completions

  async def chat(self, request: protocol.ChatRequest) -> tuple[list[dict], dict]:
    """(choices, usage) of a chat request: n assistant messages."""
    family = self.loaded.chat_family
    if family is None:
      raise ApiError(400, f"{self.name} has no chat template (a plain model): use"
                     " /v1/completions, or serve it with --chat_template", "messages")
    try:
      ids = chat_templates.prompt_ids(family, request.messages, self.loaded.vocabulary.encode)
    except UserInputError as error:
      raise ApiError(400, str(error), "messages") from error
    [completions] = await self._generate([ids], request.sampling)
    choices = [{"index": index, "message": {"role": "assistant", "content": completion.text},
                "logprobs": None, "finish_reason": completion.finish_reason,
                "token_ids": list(completion.token_ids)}  # for streaming; not sent
               for index, completion in enumerate(completions)]
    generated = sum(len(completion.token_ids) for completion in completions)
    return choices, protocol.usage(len(ids), generated)

  # streaming

  def text_pieces(self, token_ids: list[int], text: str) -> Iterator[str]:
    """Pieces of `text`, about one per token, that concatenate to exactly `text`.

    A piece ends where decoding the tokens so far ends, held back while that is not
    yet a prefix of the text (a character split over tokens, or a cut stop string).
    """
    sent = 0
    for end in range(1, len(token_ids) + 1):
      decoded = self.loaded.vocabulary.decode(list(token_ids[:end]))
      if len(decoded) > sent and text.startswith(decoded):
        yield text[sent:len(decoded)]
        sent = len(decoded)
    if sent < len(text):
      yield text[sent:]
