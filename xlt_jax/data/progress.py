"""A progress line for long preparation: records, records/s, bytes read of the total."""

import sys
import time
from typing import TextIO


class Progress:
  """Prints "<what>: N records (R/s), X of Y MB (P%)" at most every `interval` seconds."""

  def __init__(self, what: str, total_bytes: int, stream: TextIO | None = None,
               interval: float = 2.0, clock=time.monotonic):
    self.what = what
    self.total_bytes = total_bytes
    self.stream = stream if stream is not None else sys.stderr
    self.interval = interval
    self.clock = clock
    self.start = clock()
    self.last = self.start
    self.records = 0
    self.bytes_read = 0

  def update(self, records: int, bytes_read: int, force: bool = False) -> None:
    self.records, self.bytes_read = records, bytes_read
    now = self.clock()
    if force or now - self.last >= self.interval:
      self.last = now
      self.stream.write(self.line() + "\n")
      self.stream.flush()

  def line(self) -> str:
    elapsed = max(self.clock() - self.start, 1e-9)
    share = self.bytes_read / self.total_bytes if self.total_bytes else 1.0
    return (f"{self.what}: {self.records:,} records ({self.records / elapsed:,.0f}/s),"
            f" {self.bytes_read / 1e6:,.1f} of {self.total_bytes / 1e6:,.1f} MB ({share:.0%})")
