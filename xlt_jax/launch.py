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

if __name__ == "__main__":
  # Before the heavy imports below: restarting discards everything done so far.
  from xlt_jax.training import host_memory

  host_memory.restart_with_huge_page_malloc()

import time  # noqa: E402

from xlt_jax.core.errors import UserInputError  # noqa: E402
from xlt_jax.runner import gin_setup, study_runner  # noqa: E402
from xlt_jax.training import distributed, preemption


def quiet_libraries() -> None:
  """Keeps the console to our progress lines: library chatter goes below warnings."""
  import absl.logging
  import sentencepiece

  absl.logging.set_verbosity(absl.logging.ERROR)
  sentencepiece.set_min_log_level(2)


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  quiet_libraries()
  notice = preemption.install_sigterm_handler()
  start = time.perf_counter()
  try:
    files, bindings, rest = gin_setup.split_gin_flags(argv)
    if rest:
      raise UserInputError(f"unknown arguments {rest}; use --gin_file=F and --gin.NAME=VALUE")
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
  sys.exit(main())
