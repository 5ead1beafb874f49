"""Per-run counts of one client: requests, retries, cache hits, tokens and estimated cost."""

import dataclasses
import threading
from collections.abc import Mapping


@dataclasses.dataclass
class UsageCounts:
  """What a client did in one run. Tokens and cost count paid replies only (cache hits cost
  nothing); `requests` counts every HTTP attempt, failed ones included."""
  model: str
  requests: int = 0  # HTTP requests sent (each retry is one more)
  replies: int = 0  # successful replies received (paid)
  cache_hits: int = 0  # replies served from the cache (not paid)
  retries: int = 0
  failures: int = 0  # requests given up on (non-retryable error or retries exhausted)
  cache_damaged: int = 0  # cache entries found damaged and redone
  prompt_tokens: int = 0
  completion_tokens: int = 0
  cost_usd: float | None = 0.0  # None: the model has no configured price

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)

  def line(self) -> str:
    """One line for the end of a run."""
    cost = "unknown (no price configured)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
    return (f"{self.model}: {self.requests} requests ({self.retries} retries, {self.failures} "
            f"failed), {self.replies} replies, {self.cache_hits} cache hits"
            f"{f', {self.cache_damaged} damaged cache entries redone' if self.cache_damaged else ''}"
            f", {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
            f"estimated cost {cost}")


class UsageCounter:
  """Thread-safe accumulation of `UsageCounts` for one model and price table."""

  def __init__(self, model: str, prices_per_million_tokens: Mapping[str, tuple[float, float]]):
    self._counts = UsageCounts(model)
    self._price = prices_per_million_tokens.get(model)
    if self._price is None:
      self._counts.cost_usd = None
    self._lock = threading.Lock()

  def add(self, **increments: int) -> None:
    with self._lock:
      for name, value in increments.items():
        setattr(self._counts, name, getattr(self._counts, name) + value)

  def add_reply(self, prompt_tokens: int, completion_tokens: int) -> None:
    with self._lock:
      self._counts.replies += 1
      self._counts.prompt_tokens += prompt_tokens
      self._counts.completion_tokens += completion_tokens
      if self._price is not None:
        self._counts.cost_usd += (prompt_tokens * self._price[0]
                                  + completion_tokens * self._price[1]) / 1e6

  def snapshot(self) -> UsageCounts:
    with self._lock:
      return dataclasses.replace(self._counts)
