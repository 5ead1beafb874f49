"""Progress with the time still to go: durations, rate-based estimates, a line or a bar.

The training loop estimates one run's time to go from its measured step rate
(`RateEstimate`); the study runner estimates the study's from the measured time per
step and per evaluation (`StudyEstimate`). `ProgressLine` shows either: on a terminal
one line redrawn in place (carriage return), anywhere else (logs, CI, pipes) one
plain line per update, so that files stay line-based.
"""

import math
import shutil
import time
from typing import Callable, Sequence, TextIO


def format_duration(seconds: float | None) -> str:
  """A duration to read at a glance: '45s', '3m05s', '2h07m', '3d04h'; '?' when unknown."""
  if seconds is None or not math.isfinite(seconds):
    return "?"
  seconds = max(0, round(seconds))
  if seconds < 60:
    return f"{seconds}s"
  minutes, seconds = divmod(seconds, 60)
  if minutes < 60:
    return f"{minutes}m{seconds:02d}s"
  hours, minutes = divmod(minutes, 60)
  if hours < 24:
    return f"{hours}h{minutes:02d}m"
  days, hours = divmod(hours, 24)
  return f"{days}d{hours:02d}h"


class RateEstimate:
  """The time left in a loop of `total` units, from the rate measured so far.

  The clock starts at the first `update`: call it once the first unit is done, so that
  one-off costs inside that unit (tracing and compiling a jitted step) are not taken for
  the rate. Every later `update(done)` measures `done - first` units over the time since.
  Whatever else the loop does between updates (validation, checkpoints) counts as part
  of the rate, as it will in the time still to go.
  """

  def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter):
    self.total = total
    self.clock = clock
    self._first: tuple[int, float] | None = None  # (units done, time) at the first update
    self._last: tuple[int, float] | None = None  # and at the latest

  def update(self, done: int) -> None:
    """Records that `done` units (counted from the loop's start) are finished now."""
    now = self.clock()
    if self._first is None:
      self._first = (done, now)
    self._last = (done, now)

  def rate(self) -> float | None:
    """Units per second since the first update; None until a unit after it is measured."""
    if self._first is None or self._last is None:
      return None
    units, seconds = self._last[0] - self._first[0], self._last[1] - self._first[1]
    if units <= 0 or seconds <= 0:
      return None
    return units / seconds

  def remaining_seconds(self, done: int | None = None) -> float | None:
    """Seconds until `total` at the measured rate, from `done` units (default: the latest
    update's); 0 once done, None while the rate is unknown."""
    if done is None:
      done = self._last[0] if self._last is not None else 0
    if done >= self.total:
      return 0.0
    rate = self.rate()
    return None if rate is None else (self.total - done) / rate


class StudyEstimate:
  """The time left in a study of several runs, each trained and then evaluated.

  A run still to train costs the mean measured overhead of a run (set-up and its first,
  compiling step) plus its remaining steps at the measured seconds per step after the
  first; while no run told that split, every step costs the measured seconds per step
  all included. Each evaluation still to do costs the measured mean evaluation time,
  and is left out (and said to be) until one evaluation was measured.
  """

  def __init__(self, steps_to_train: Sequence[int], to_evaluate: Sequence[bool]):
    """Takes, per run, the steps it still has to train and whether it is still to evaluate."""
    if len(steps_to_train) != len(to_evaluate):
      raise ValueError("one entry per run in both steps_to_train and to_evaluate")
    self._steps_left = list(steps_to_train)
    self._evaluation_left = list(to_evaluate)
    self._steps_trained, self._train_seconds = 0, 0.0  # all included
    self._overheads: list[float] = []  # per run: its time but for the steps after the first
    self._later_steps, self._later_seconds = 0, 0.0  # the steps after each run's first
    self._evaluations, self._evaluation_seconds = 0, 0.0

  def trained(self, run: int, steps: int, seconds: float,
              seconds_after_first_step: float | None = None) -> None:
    """Run `run` (0-based) finished training: `steps` steps in `seconds`, of which
    `seconds_after_first_step` after its first step (when known). 0 steps: the run was
    trained before and only skipped."""
    self._steps_left[run] = 0
    if steps > 0:
      self._steps_trained += steps
      self._train_seconds += seconds
    if steps > 1 and seconds_after_first_step is not None:
      self._overheads.append(max(seconds - seconds_after_first_step, 0.0))
      self._later_steps += steps - 1
      self._later_seconds += seconds_after_first_step

  def evaluated(self, run: int, seconds: float | None) -> None:
    """Run `run` finished evaluation in `seconds` (None: evaluated before, skipped)."""
    self._evaluation_left[run] = False
    if seconds is not None:
      self._evaluations += 1
      self._evaluation_seconds += seconds

  @property
  def evaluations_left(self) -> int:
    return sum(self._evaluation_left)

  def remaining_seconds(self) -> float | None:
    """Training and measured evaluation time still to go; None while a step rate is
    needed but not measured."""
    runs_left = [steps for steps in self._steps_left if steps > 0]
    seconds = 0.0
    if self._overheads:
      overhead = sum(self._overheads) / len(self._overheads)
      seconds += sum(overhead + (steps - 1) * self._later_seconds / self._later_steps
                     for steps in runs_left)
    elif runs_left:
      if not self._steps_trained:
        return None
      seconds += sum(runs_left) * self._train_seconds / self._steps_trained
    if self._evaluations:
      seconds += self.evaluations_left * self._evaluation_seconds / self._evaluations
    return seconds

  def describe(self) -> str:
    """'study eta 12m30s'; '+ evaluation' when unmeasured evaluations are left out."""
    text = f"study eta {format_duration(self.remaining_seconds())}"
    if self.evaluations_left and not self._evaluations and self.remaining_seconds() is not None:
      text += " + evaluation"
    return text


def is_terminal(stream: TextIO) -> bool:
  """Whether `stream` is a terminal (False for files, pipes and closed or odd streams)."""
  try:
    return bool(stream.isatty())
  except (AttributeError, ValueError):
    return False


def draw_bar(done: int, total: int, width: int = 24) -> str:
  """'[=========>         ]  45%': the share of `total` that is `done`."""
  share = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
  filled = int(share * width)
  arrow = ">" if filled < width else ""
  return f"[{'=' * filled}{arrow}{' ' * (width - filled - len(arrow))}] {share:4.0%}"


class ProgressLine:
  """Shows progress on a stream: redrawn in place on a terminal, one line each elsewhere.

  In bar mode (`bar=None`: when the stream is a terminal) `show` rewrites the current
  line after a carriage return, cut to the terminal's width and padded over the longer
  line it replaces; `print` puts a permanent line above it; `finish` ends it with a
  newline. In line mode `show` and `print` both write one line.
  """

  def __init__(self, stream: TextIO, bar: bool | None = None, width: int | None = None):
    self.stream = stream
    self.bar = is_terminal(stream) if bar is None else bar
    self.width = width  # None: the terminal's width, read at each redraw
    self._shown = ""  # the line on screen in bar mode; "" when none

  def _columns(self) -> int:
    return self.width if self.width is not None else shutil.get_terminal_size((100, 24)).columns

  def show(self, text: str) -> None:
    """Shows `text` as the current progress."""
    if not self.bar:
      self.print(text)
      return
    text = text[:max(self._columns() - 1, 1)]  # a wrapped line could not be redrawn
    self.stream.write("\r" + text + " " * max(len(self._shown) - len(text), 0))
    self.stream.flush()
    self._shown = text

  def print(self, text: str) -> None:
    """Writes `text` as a line of its own; in bar mode above the progress line."""
    if self.bar and self._shown:
      self.stream.write("\r" + text + " " * max(len(self._shown) - len(text), 0) + "\n"
                        + self._shown)
    else:
      self.stream.write(text + "\n")
    self.stream.flush()

  def finish(self) -> None:
    """Leaves the progress line on screen and moves below it (bar mode)."""
    if self.bar and self._shown:
      self.stream.write("\n")
      self.stream.flush()
    self._shown = ""
