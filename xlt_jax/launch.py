"""Runs an experiment described in gin: a whole study, or a single run.

    python -m xlt_jax.launch --gin_file=gin/demo_cpu.gin [--gin.MODEL_DIR="'/some/dir'"]

Prints progress, then the path of the report. Exit status 2 with a one-line
`error:` message for bad input (unknown names, malformed data, impossible budgets)
and for a worker that cannot join a multi-host run in time.

On a TPU VM slice every worker runs the same command (launch/run.sh): the workers
find each other by themselves (`DistributedConfig`), each feeds its shard of the
global batch, and the primary worker writes the result files.
On SIGTERM (a TPU preemption notice) training saves a checkpoint and the job exits
with status 75 (`preemption.EXIT_STATUS`); the same command resumes it.
On Linux the command restarts itself once under huge-page malloc (`xlt_jax.training.host_memory`;
XLT_JAX_HUGE_PAGE_MALLOC=0 turns that off).
"""

import sys
import time

from xlt_jax.core.errors import UserInputError
from xlt_jax.runner import flags, quiet_start

PROG = "python -m xlt_jax.launch"


def _parser():
  return flags.gin_parser(
      PROG, __doc__.split("\n")[0], "--gin_file=FILE [--gin_file=FILE ...] [--gin.NAME=VALUE ...]",
      [f"{PROG} --gin_file=gin/demo_cpu.gin --gin.MODEL_DIR=\"'/tmp/demo'\"",
       f"{PROG} --gin_file=gin/smoke_cpu.gin --gin.StudyDesign.budgets=\"(0, 16)\""])


def quiet_libraries() -> None:
  """Keeps the console to our progress lines: library chatter goes below warnings."""
  import absl.logging
  import sentencepiece

  absl.logging.set_verbosity(absl.logging.ERROR)
  sentencepiece.set_min_log_level(2)


def main(argv: list[str] | None = None, restart_malloc: bool = False) -> int:
  """Runs the experiment; `error: ...` and 2 on bad input, 75 when preempted.

  Args:
    argv: the flags (default: sys.argv[1:]).
    restart_malloc: restart this process under huge-page malloc once the flags parse
      (`python -m` does; see the module docstring).
  """
  argv = sys.argv[1:] if argv is None else argv
  try:
    _, files, bindings = flags.parse(_parser(), argv)  # --help exits here, at once
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  if restart_malloc:
    # Before the heavy imports below: restarting discards everything done so far.
    from xlt_jax.training import host_memory

    host_memory.restart_with_huge_page_malloc()
  quiet_start.begin()
  from xlt_jax.runner import gin_setup, study_runner
  from xlt_jax.training import distributed, preemption

  quiet_libraries()
  notice = preemption.install_sigterm_handler()
  start = time.perf_counter()
  try:
    experiment, operative_config = gin_setup.build_experiment(files, bindings)
    distributed.initialize(experiment.distributed)  # before anything touches a device
    report_path = study_runner.run_experiment(experiment, operative_config, preemption=notice)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  except preemption.Preempted as stop:
    print(stop, flush=True)
    return preemption.EXIT_STATUS
  print(f"done in {time.perf_counter() - start:.0f}s; report: {report_path}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(restart_malloc=True))
