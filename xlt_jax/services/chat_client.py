"""One client for OpenAI-compatible chat APIs: cached, retried, rate-limited and counted.

The `openai` package speaks to any server with OpenAI's `/v1/chat/completions` (OpenAI,
vLLM, TGI, Cohere's compatibility endpoint, `xlt_jax.serve`), chosen by `base_url`. Its own
retries are turned off (`max_retries=0`): this module retries (see `retry_policy`), so that
every attempt is counted and `Retry-After` is honoured the same way for every server.

Order of one request: the cache (`cache.ReplyCache`; a hit costs nothing) -> the gate
(`rate_limit.RequestGate`: concurrency and requests per minute) -> the HTTP request ->
retries -> the reply written to the cache atomically before it is returned. A rerun, or a
run killed halfway, therefore repeats only requests whose reply never reached the cache.

The API key is read once, from the environment variable the config names, and handed to
the `openai` client; it is no part of a cache key, entry, reply, usage count or message.
"""

import concurrent.futures
import dataclasses
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Self

import openai

from xlt_jax.core.errors import UserInputError
from xlt_jax.services import retry_policy
from xlt_jax.services.cache import DAMAGED, ReplyCache
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.services.rate_limit import RequestGate
from xlt_jax.services.usage import UsageCounter, UsageCounts

NO_KEY = "no-key"  # sent as the key to servers that need none (api_key_env = "")


@dataclasses.dataclass(frozen=True)
class ChatRequest:
  """One chat completion to ask for.

  `params` are the sampling parameters sent to the API as they are (`temperature`,
  `max_tokens`, `seed`, `response_format`, ...). `attempt` numbers re-asks of the same
  prompt (a judge asks again after an unparsable reply): each attempt has its own cache
  entry, so a rerun replays both.
  """
  messages: Sequence[Mapping[str, str]]
  params: Mapping[str, Any]
  prompt_version: str
  attempt: int = 0


@dataclasses.dataclass(frozen=True)
class ChatReply:
  content: str
  finish_reason: str | None
  model: str | None  # the model the server says answered
  prompt_tokens: int
  completion_tokens: int
  cached: bool  # served from the cache (not paid in this run)


# The fields of a reply kept in the cache (ChatReply less `cached`).
_REPLY_FIELDS = {field.name for field in dataclasses.fields(ChatReply)} - {"cached"}


class ChatServiceError(Exception):
  """A request that failed for good: a non-retryable status, or retries exhausted."""

  def __init__(self, message: str, status: int | None):
    super().__init__(message)
    self.status = status


def api_key_from(config: ChatServiceConfig, environ: Mapping[str, str]) -> str:
  """The API key named by `config.api_key_env` in `environ`, or NO_KEY when none is needed.

  Raises:
    UserInputError: the variable is not set, naming it and the gin binding.
  """
  if not config.api_key_env:
    return NO_KEY
  key = environ.get(config.api_key_env)
  if not key:
    raise UserInputError(
        f"no API key for {config.base_url} ({config.model}): set the environment variable "
        f"{config.api_key_env}, or bind ChatServiceConfig.api_key_env to the variable that "
        "holds it ('' for a server that needs no key)")
  return key


class ChatClient:
  """Chat completions from one model at one endpoint; see the module docstring."""

  def __init__(self, config: ChatServiceConfig, api_key: str, *,
               sleep: Callable[[float], None] = time.sleep, seed: int | None = None,
               report_to: IO[str] | None = None):
    self.config = config
    self._openai = openai.OpenAI(base_url=config.base_url, api_key=api_key, max_retries=0,
                                 timeout=config.timeout_s)
    self._cache = ReplyCache(config.cache_dir) if config.cache_dir else None
    self._gate = RequestGate(config.max_concurrency, config.requests_per_minute)
    self._usage = UsageCounter(config.model, config.prices_per_million_tokens)
    self._sleep = sleep
    self._rng = random.Random(seed)
    self._report_to = report_to

  @classmethod
  def from_environment(cls, config: ChatServiceConfig,
                       environ: Mapping[str, str] = os.environ, **kwargs: Any) -> "ChatClient":
    """A client whose key comes from the environment variable `config.api_key_env`."""
    return cls(config, api_key_from(config, environ), **kwargs)

  def identity(self, request: ChatRequest) -> dict:
    """What the cache key is made of: no credentials, nothing that varies between runs."""
    return {"base_url": self.config.base_url.rstrip("/"), "model": self.config.model,
            "messages": [dict(message) for message in request.messages],
            "params": dict(request.params), "prompt_version": request.prompt_version,
            "attempt": request.attempt}

  def complete(self, request: ChatRequest) -> ChatReply:
    """The reply to `request`, from the cache or the API.

    Raises:
      ChatServiceError: a non-retryable failure, or `max_retries` retries all failed.
    """
    identity = self.identity(request)
    if self._cache is not None:
      cached = self._cache.get(identity)
      if cached is DAMAGED or (cached is not None and set(cached) != _REPLY_FIELDS):
        self._usage.add(cache_damaged=1)
      elif cached is not None:
        self._usage.add(cache_hits=1)
        return ChatReply(**cached, cached=True)
    reply = self._request_with_retries(request)
    if self._cache is not None:
      self._cache.put(identity, reply)
    return ChatReply(**reply, cached=False)

  def complete_many(self, requests: Sequence[ChatRequest]) -> list[ChatReply | ChatServiceError]:
    """Replies in the order of `requests`, asked up to `max_concurrency` at a time; a request
    that failed for good is its `ChatServiceError` in the list (the others still finish)."""
    def one(request: ChatRequest) -> ChatReply | ChatServiceError:
      try:
        return self.complete(request)
      except ChatServiceError as error:
        return error

    if self.config.max_concurrency == 1 or len(requests) <= 1:
      return [one(request) for request in requests]
    with concurrent.futures.ThreadPoolExecutor(self.config.max_concurrency) as pool:
      return list(pool.map(one, requests))

  def _request_with_retries(self, request: ChatRequest) -> dict:
    for retry in range(self.config.max_retries + 1):
      try:
        with self._gate.request():
          self._usage.add(requests=1)
          completion = self._openai.chat.completions.create(
              model=self.config.model, messages=[dict(m) for m in request.messages],
              **request.params)
        return _reply_fields(completion, self._usage)
      except retry_policy.REQUEST_ERRORS as error:
        status = retry_policy.status_of(error)
        if not retry_policy.is_retryable(error) or retry == self.config.max_retries:
          self._usage.add(failures=1)
          why = "not retryable" if not retry_policy.is_retryable(error) else (
              f"gave up after {self.config.max_retries} retries")
          raise ChatServiceError(
              f"{self.config.base_url} ({self.config.model}): {type(error).__name__}"
              f"{f' {status}' if status else ''} ({why}): {_short(error)}", status) from None
        self._usage.add(retries=1)
        self._sleep(retry_policy.wait_s(error, retry, self.config.initial_backoff_s,
                                        self.config.max_backoff_s,
                                        self.config.max_retry_after_s, self._rng))
    raise AssertionError("unreachable")

  def usage(self) -> UsageCounts:
    """The counts of this run so far."""
    return self._usage.snapshot()

  def close(self) -> UsageCounts:
    """Closes the HTTP connections and prints the run's usage line (to `report_to`, or
    standard error); returns the counts."""
    self._openai.close()
    counts = self.usage()
    print(f"chat service usage: {counts.line()}", file=self._report_to or sys.stderr)
    return counts

  def __enter__(self) -> Self:
    return self

  def __exit__(self, *exc_info: object) -> None:
    self.close()


def _reply_fields(completion: Any, usage: UsageCounter) -> dict:
  """The cached fields of a completion; counts its tokens as paid."""
  if not getattr(completion, "choices", None):
    raise retry_policy.MalformedReplyError(f"reply without choices: {str(completion)[:200]}")
  choice = completion.choices[0]
  tokens = completion.usage
  prompt_tokens = int(getattr(tokens, "prompt_tokens", 0) or 0)
  completion_tokens = int(getattr(tokens, "completion_tokens", 0) or 0)
  usage.add_reply(prompt_tokens, completion_tokens)
  return {"content": choice.message.content or "", "finish_reason": choice.finish_reason,
          "model": completion.model, "prompt_tokens": prompt_tokens,
          "completion_tokens": completion_tokens}


def _short(error: BaseException, limit: int = 300) -> str:
  text = str(error).replace("\n", " ")
  return text if len(text) <= limit else text[:limit] + "..."
