"""Configuration of one chat service: a plain frozen dataclass that gin binds at the binaries."""

import dataclasses
from collections.abc import Mapping

from xlt_jax.core.errors import UserInputError

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


@dataclasses.dataclass(frozen=True)
class ChatServiceConfig:
  """Where and how to call an OpenAI-compatible `/chat/completions` endpoint.

  The API key is never a field: only the *name* of the environment variable holding it,
  so no config file, manifest or cache can contain the key.
  """
  base_url: str = "https://api.openai.com/v1"  # e.g. http://localhost:8000/v1 for vLLM
  model: str = "gpt-4o"
  api_key_env: str = DEFAULT_API_KEY_ENV  # "" for servers that need no key (local vLLM)
  cache_dir: str | None = None  # replies are cached here; None: no cache (every call is paid)
  max_concurrency: int = 8  # requests in flight at once
  requests_per_minute: float | None = None  # None: no limit; else starts are spaced 60/rpm s
  timeout_s: float = 120.0  # per HTTP request
  max_retries: int = 6  # retries after the first attempt (timeouts, connection errors, 429, 5xx)
  initial_backoff_s: float = 1.0  # the first retry waits about this long, doubling after
  max_backoff_s: float = 60.0  # no backoff wait is longer
  max_retry_after_s: float = 600.0  # a server's Retry-After is honoured up to this long
  # USD per million tokens (input, output), per model name; a model not listed has no cost
  # estimate (reported as unknown, never as 0).
  prices_per_million_tokens: Mapping[str, tuple[float, float]] = dataclasses.field(
      default_factory=dict)

  def __post_init__(self) -> None:
    problems = []
    if self.max_concurrency < 1:
      problems.append(f"max_concurrency must be at least 1, got {self.max_concurrency}")
    if self.requests_per_minute is not None and self.requests_per_minute <= 0:
      problems.append(f"requests_per_minute must be positive or None, got "
                      f"{self.requests_per_minute}")
    if self.max_retries < 0:
      problems.append(f"max_retries must be 0 or more, got {self.max_retries}")
    if min(self.timeout_s, self.initial_backoff_s, self.max_backoff_s,
           self.max_retry_after_s) < 0:
      problems.append("timeout_s and the backoff limits must not be negative")
    if problems:
      raise UserInputError("ChatServiceConfig: " + "; ".join(problems))
