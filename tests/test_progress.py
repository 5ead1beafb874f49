"""Progress with an ETA: durations, the rate and study estimates, the redrawn bar."""

import io

import pytest

from xlt_jax.core import progress


class FakeClock:
  """A clock that moves only when told."""

  def __init__(self, now: float = 100.0):
    self.now = now

  def __call__(self) -> float:
    return self.now

  def advance(self, seconds: float) -> None:
    self.now += seconds


class FakeTerminal(io.StringIO):
  """What the progress code sees of a terminal: a stream whose isatty() is True."""

  def isatty(self) -> bool:
    return True


@pytest.mark.parametrize("seconds, text", [
    (None, "?"), (float("nan"), "?"), (-3, "0s"), (0, "0s"), (44.6, "45s"), (59.4, "59s"),
    (60, "1m00s"), (185, "3m05s"), (3599, "59m59s"), (3600, "1h00m"), (7620, "2h07m"),
    (86400 * 3 + 3600 * 4 + 59, "3d04h"),
])
def test_format_duration(seconds, text):
  assert progress.format_duration(seconds) == text


def test_rate_estimate_leaves_out_the_first_step_and_counts_from_it():
  clock = FakeClock()
  eta = progress.RateEstimate(total=375, clock=clock)
  assert eta.rate() is None and eta.remaining_seconds() is None
  clock.advance(30.0)  # the first step: 30 s of compilation, not a rate
  eta.update(1)
  assert eta.rate() is None and eta.remaining_seconds(1) is None
  clock.advance(249 * 0.5)  # then 2 steps/s
  eta.update(250)
  assert eta.rate() == pytest.approx(2.0)
  assert eta.remaining_seconds() == pytest.approx(125 * 0.5)
  assert eta.remaining_seconds(300) == pytest.approx(75 * 0.5)  # between updates (the bar)
  assert progress.format_duration(eta.remaining_seconds()) == "1m02s"
  eta.update(375)
  assert eta.remaining_seconds() == 0.0


def test_study_estimate_counts_remaining_steps_and_measured_evaluations():
  # Three runs of 100, 150 and 200 steps; the first was trained before (only evaluation left).
  estimate = progress.StudyEstimate(steps_to_train=[0, 150, 200], to_evaluate=[True] * 3)
  assert estimate.remaining_seconds() is None
  assert estimate.describe() == "study eta ?"
  estimate.trained(0, steps=0, seconds=0.0)  # skipped: measures nothing
  estimate.evaluated(0, seconds=20.0)
  assert estimate.remaining_seconds() is None  # steps left, none measured
  estimate.trained(1, steps=150, seconds=300.0)  # 2 s per step
  assert estimate.remaining_seconds() == pytest.approx(200 * 2.0 + 2 * 20.0)
  assert estimate.describe() == "study eta 7m20s"
  estimate.evaluated(1, seconds=40.0)  # mean evaluation: 30 s
  assert estimate.remaining_seconds() == pytest.approx(200 * 2.0 + 30.0)
  estimate.trained(2, steps=200, seconds=380.0)
  assert estimate.remaining_seconds() == pytest.approx(30.0)
  estimate.evaluated(2, seconds=30.0)
  assert estimate.remaining_seconds() == 0.0 and estimate.describe() == "study eta 0s"


def test_study_estimate_charges_each_run_its_overhead_once():
  # Runs of 100, 40 and 10 steps. The first took 70 s: 20 s of set-up and compilation
  # (its first step included), then 99 steps at 0.5 s.
  estimate = progress.StudyEstimate(steps_to_train=[100, 40, 10], to_evaluate=[False] * 3)
  estimate.trained(0, steps=100, seconds=69.5, seconds_after_first_step=49.5)
  # 20 s + 39 x 0.5 s, and 20 s + 9 x 0.5 s (all included, 0.695 s per step: 34.75 s).
  assert estimate.remaining_seconds() == pytest.approx(39.5 + 24.5)
  estimate.trained(1, steps=40, seconds=45.5, seconds_after_first_step=19.5)  # 26 s overhead
  assert estimate.remaining_seconds() == pytest.approx(23.0 + 9 * 0.5)


def test_study_estimate_says_when_evaluation_is_not_measured_yet():
  estimate = progress.StudyEstimate(steps_to_train=[10, 10], to_evaluate=[True, True])
  estimate.trained(0, steps=10, seconds=5.0)
  assert estimate.describe() == "study eta 5s + evaluation"


def test_draw_bar():
  assert progress.draw_bar(0, 4, width=8) == "[>       ]   0%"
  assert progress.draw_bar(2, 4, width=8) == "[====>   ]  50%"
  assert progress.draw_bar(4, 4, width=8) == "[========] 100%"


def test_progress_line_redraws_in_place_on_a_terminal():
  terminal = FakeTerminal()
  line = progress.ProgressLine(terminal, width=40)
  assert line.bar
  line.show("step 1/3 with a long tail of text")
  line.show("step 2/3")
  line.print("validation loss 1.0")
  line.show("step 3/3 " + "x" * 60)  # cut to the width: a wrapped line cannot be redrawn
  line.finish()
  written = terminal.getvalue()
  assert written == ("\rstep 1/3 with a long tail of text"
                     "\rstep 2/3" + " " * 25
                     + "\rvalidation loss 1.0\nstep 2/3"
                     + "\rstep 3/3 " + "x" * 30 + "\n")
  # On screen: the validation line, then the last bar, each once.
  assert written.count("\n") == 2


def test_progress_line_writes_plain_lines_elsewhere():
  stream = io.StringIO()
  line = progress.ProgressLine(stream)
  assert not line.bar and not progress.is_terminal(stream)
  line.show("step 1/3")
  line.print("validation loss 1.0")
  line.show("step 2/3")
  line.finish()
  assert stream.getvalue() == "step 1/3\nvalidation loss 1.0\nstep 2/3\n"
  assert "\r" not in stream.getvalue()
