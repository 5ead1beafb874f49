"""Never lose work: a killed or preempted run resumes bit-identically, broken or foreign
checkpoints are named, a diverging run stops without saving the damage."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

import resume_worker  # tests/ is on sys.path (pytest prepend mode)
from xlt_jax import checkpointing, sharding, trainer
from xlt_jax.errors import UserInputError
from xlt_jax.model import Decoder
from xlt_jax.preemption import EXIT_STATUS
from xlt_jax.train_step import abstract_params

WORKER = pathlib.Path(resume_worker.__file__)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
  path = tmp_path_factory.mktemp("data")
  resume_worker.write_data(str(path))
  return str(path)


def _start_worker(run_dir, data_dir, cache_dir) -> subprocess.Popen:
  # A shared persistent compilation cache: only the first process compiles the steps.
  env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache_dir),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.Popen([sys.executable, "-u", str(WORKER), str(run_dir), data_dir],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _signal_at_step(process: subprocess.Popen, step: int, signal_number: int) -> list[str]:
  """Sends the signal as soon as the worker reports `step`; returns its stdout lines."""
  lines = []
  for line in process.stdout:
    lines.append(line)
    if line.startswith(f"[tiny] step {step}/"):
      process.send_signal(signal_number)
      break
  lines += process.stdout.readlines()
  process.wait(timeout=300)
  return lines


def _final_params(run_dir, step: int):
  mesh = sharding.make_mesh(resume_worker.MESH)
  return checkpointing.restore_params(os.path.join(run_dir, "checkpoints"), str(step),
                                      abstract_params(Decoder(resume_worker.MODEL), mesh))[1]


def _curve(run_dir) -> list[tuple]:
  """(step, loss, grad norm, validation loss) of every record: everything but timings."""
  lines = pathlib.Path(run_dir, "metrics.jsonl").read_text().splitlines()
  return [tuple(record.get(key) for key in ("step", "loss", "grad_norm", "validation_loss"))
          for record in map(json.loads, lines)]


@pytest.mark.slow
def test_preempted_then_killed_run_continues_bit_identically(tmp_path, data_dir):
  reference = tmp_path / "uninterrupted"
  resume_worker.train(str(reference), data_dir, stream=open(os.devnull, "w"))
  interrupted = tmp_path / "interrupted"

  first = _start_worker(interrupted, data_dir, tmp_path / "cache")
  lines = _signal_at_step(first, 3, signal.SIGTERM)
  assert first.returncode == EXIT_STATUS, (lines[-5:], first.stderr.read()[-2000:])
  preempted_step = int(lines[-1].split("preempted at step ")[1].split(";")[0])
  assert 3 <= preempted_step < 10, lines[-3:]  # SIGTERM stops within a step or two
  assert lines[-1].endswith("checkpoint saved; re-run the same command to resume\n")
  assert checkpointing.saved_steps(str(interrupted / "checkpoints"))[-1] == preempted_step

  second = _start_worker(interrupted, data_dir, tmp_path / "cache")
  lines = _signal_at_step(second, 13, signal.SIGKILL)
  assert f"[tiny] resuming at step {preempted_step}/30" in "".join(lines)
  assert second.returncode == -signal.SIGKILL, "the run finished before it could be killed"
  assert not (interrupted / trainer.SUMMARY_FILE).exists()
  # Killed mid-save or not, the newest complete checkpoint is one of this attempt's.
  resume_step = checkpointing.saved_steps(str(interrupted / "checkpoints"))[-1]
  assert resume_step >= preempted_step

  third = _start_worker(interrupted, data_dir, tmp_path / "cache")
  lines = third.stdout.readlines()
  assert third.wait(timeout=300) == 0, third.stderr.read()[-2000:]
  assert f"[tiny] resuming at step {resume_step}/30" in "".join(lines)
  assert lines[-1] == "finished\n"
  summary = json.loads((interrupted / trainer.SUMMARY_FILE).read_text())
  assert summary["resumed_from_step"] == resume_step

  assert _curve(interrupted) == _curve(reference)  # no step missing or logged twice
  for resumed, uninterrupted in zip(jax.tree.leaves(_final_params(interrupted, 30)),
                                    jax.tree.leaves(_final_params(reference, 30))):
    np.testing.assert_array_equal(resumed, uninterrupted)
  assert json.loads((reference / trainer.SUMMARY_FILE).read_text())["best_step"] == \
      summary["best_step"]
