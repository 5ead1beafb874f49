"""Concurrency and requests-per-minute limits shared by every thread of one client."""

import contextlib
import threading
import time
from collections.abc import Iterator


class RequestGate:
  """At most `max_concurrency` requests in flight; starts spaced at least 60/rpm s apart.

  Spacing starts evenly (rather than allowing a burst of `rpm` at once) keeps a client under
  a provider's per-minute limit measured over any window, including the first seconds.
  """

  def __init__(self, max_concurrency: int, requests_per_minute: float | None):
    if max_concurrency < 1:
      raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    self._slots = threading.BoundedSemaphore(max_concurrency)
    self._interval_s = 60.0 / requests_per_minute if requests_per_minute else 0.0
    self._lock = threading.Lock()
    self._next_start = 0.0

  def _wait_for_start(self) -> None:
    with self._lock:
      now = time.monotonic()
      start = max(now, self._next_start)
      self._next_start = start + self._interval_s
    if start > now:
      time.sleep(start - now)

  @contextlib.contextmanager
  def request(self) -> Iterator[None]:
    """Holds one concurrency slot, entered no sooner than the rate limit allows."""
    with self._slots:
      self._wait_for_start()
      yield
