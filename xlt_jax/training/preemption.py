"""Preemption notices: SIGTERM (how a TPU VM announces preemption) becomes a flag the
training loop polls, and the loop's clean exit becomes a distinct exit status.

Only binaries install the handler (`install_sigterm_handler`); importing this module
changes nothing. The library receives the flag as an argument.
"""

import signal
import threading

# sysexits.h EX_TEMPFAIL: "a temporary failure; the user is invited to retry". A job
# scheduler can tell a preempted run (re-run the same command) from a failed one (2: bad
# input, 1: a crash).
EXIT_STATUS = 75


class Preempted(Exception):
  """The job stopped on a preemption notice with its work saved; `what` says where
  ("run X: preempted at step N; checkpoint saved")."""

  def __init__(self, what: str):
    super().__init__(f"{what}; re-run the same command to resume")


def install_sigterm_handler() -> threading.Event:
  """Makes SIGTERM set (and only set) the returned event; call from a binary's main thread.

  The handler does no I/O: the training loop sees the event at its next step, saves a
  checkpoint and raises `Preempted`. A second SIGTERM is not fatal either; SIGKILL is.
  """
  notice = threading.Event()
  signal.signal(signal.SIGTERM, lambda signal_number, frame: notice.set())
  return notice
