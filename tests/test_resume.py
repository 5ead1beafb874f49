"""Never lose work: a killed or preempted run resumes bit-identically, broken or foreign
checkpoints are named, a diverging run stops without saving the damage."""

import dataclasses
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import jax
import numpy as np
import pytest
import resume_worker  # tests/ is on sys.path (pytest prepend mode)

from xlt_jax.core.errors import UserInputError
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import checkpointing, metrics_log, resume_guard, sharding, trainer
from xlt_jax.training.preemption import EXIT_STATUS
from xlt_jax.training.train_step import abstract_params

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
  return _popen([sys.executable, "-u", str(WORKER), str(run_dir), data_dir], env=env)


def _popen(command: list[str], **options) -> subprocess.Popen:
  """stdout as a pipe to read progress from; stderr to a file (an unread pipe that fills
  up would block the child), kept as `process.error_file`."""
  error_file = tempfile.TemporaryFile("w+")
  process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=error_file, text=True,
                             **options)
  process.error_file = error_file
  return process


def _stderr(process: subprocess.Popen) -> str:
  process.error_file.seek(0)
  return process.error_file.read()[-2000:]


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
  resume_worker.train(str(reference), data_dir, stream=io.StringIO())
  interrupted = tmp_path / "interrupted"

  first = _start_worker(interrupted, data_dir, tmp_path / "cache")
  lines = _signal_at_step(first, 3, signal.SIGTERM)
  assert first.returncode == EXIT_STATUS, (lines[-5:], _stderr(first))
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
  assert third.wait(timeout=300) == 0, _stderr(third)
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


def test_a_checkpoint_of_another_model_is_named_and_left_untouched(tmp_path, data_dir):
  from xlt_jax.training.train_step import OptimizerConfig, build
  wider = dataclasses.replace(resume_worker.MODEL, mlp_dim=96)
  functions = build(wider, OptimizerConfig(), sharding.make_mesh(resume_worker.MESH))
  manager = checkpointing.open_checkpoints(str(tmp_path / "run" / "checkpoints"), keep_latest=1,
                                           keep_best=1)
  zeros = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), functions.abstract_state)
  checkpointing.save(manager, 5, zeros, None)  # only the shapes matter
  manager.close()
  before = _snapshot(tmp_path / "run")
  with pytest.raises(UserInputError, match=r"parameter \['layers'\]\['mlp'\]\['down'\] has shape"
                                           r" \(2, 96, 32\), the model expects \(2, 64, 32\)"):
    resume_worker.train(str(tmp_path / "run"), data_dir, stream=io.StringIO())
  assert _snapshot(tmp_path / "run") == before


def _snapshot(directory: pathlib.Path) -> dict[str, bytes]:
  return {str(path.relative_to(directory)): path.read_bytes()
          for path in sorted(directory.rglob("*")) if path.is_file()}


def test_a_diverging_run_stops_and_keeps_only_finite_checkpoints(tmp_path, data_dir):
  run_dir = tmp_path / "run"
  # Leftovers of an attempt killed during its first save: nothing to resume from.
  (run_dir / "checkpoints" / "1.orbax-checkpoint-tmp-1").mkdir(parents=True)
  (run_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 6.0}\n')
  overrides = dict(learning_rate=1e30, max_steps=8, checkpoint_every_steps=1, log_every_steps=4,
                   keep_latest_checkpoints=8)
  with pytest.raises(trainer.TrainingDiverged) as raised:
    resume_worker.train(str(run_dir), data_dir, overrides, stream=io.StringIO())
  message = str(raised.value)
  bad_step = int(re.search(r"run tiny: (?:loss is not finite at|parameters are not finite"
                           r" after) step (\d+);", message).group(1))
  saved = checkpointing.saved_steps(str(run_dir / "checkpoints"))
  assert saved == list(range(1, bad_step)), message  # every step before the bad one
  assert f"the last good checkpoint (step {saved[-1]}) is kept" in message
  for leaf in jax.tree.leaves(_final_params(run_dir, saved[-1])):
    assert np.isfinite(np.asarray(leaf)).all()
  assert not (run_dir / trainer.SUMMARY_FILE).exists()
  (moved,) = run_dir.glob("interrupted-*")  # the earlier attempt's files, set aside
  assert (moved / "metrics.jsonl").read_text() == '{"step": 1, "loss": 6.0}\n'
  assert (moved / "checkpoints" / "1.orbax-checkpoint-tmp-1").is_dir()


def test_metrics_past_the_restored_step_and_a_torn_line_are_dropped(tmp_path):
  lines = [json.dumps({"step": step, "loss": 1.0 / step}) for step in (1, 2, 2, 3, 4)]
  (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 5, "lo')
  kept = metrics_log.keep_records_until(str(tmp_path), 2)
  assert [record["step"] for record in kept] == [1, 2, 2]
  assert (tmp_path / "metrics.jsonl").read_text() == "\n".join(lines[:3]) + "\n"
  (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnot json\n{"step": 2}\n')
  with pytest.raises(UserInputError, match=r"metrics.jsonl:2: not a JSON record"):
    metrics_log.keep_records_until(str(tmp_path), 2)


@pytest.mark.slow
def test_launch_exits_75_on_sigterm_and_the_same_command_resumes(tmp_path):
  command = [sys.executable, "-u", "-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin",
             f"--gin.MODEL_DIR='{tmp_path}'", "--gin.StudyDesign.budgets=(0,)",
             "--gin.TrainConfig.num_epochs=20", "--gin.TrainConfig.validation_every_steps=20"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  repository = WORKER.parents[1]
  first = _popen(command, cwd=repository, env=env)
  lines = []
  for line in first.stdout:
    lines.append(line)
    if "step 4/60" in line:
      first.send_signal(signal.SIGTERM)
      break
  lines += first.stdout.readlines()
  assert first.wait(timeout=300) == EXIT_STATUS, (lines[-3:], _stderr(first))
  assert re.fullmatch(r"run budget00000: preempted at step \d+; checkpoint saved; re-run the"
                      r" same command to resume\n", lines[-1]), lines[-3:]
  run_dir = tmp_path / "runs" / "budget00000"
  assert checkpointing.saved_steps(str(run_dir / "checkpoints"))
  assert not (run_dir / "eval").exists()

  second = subprocess.run(command, cwd=repository, env=env, capture_output=True, text=True,
                          timeout=600)
  assert second.returncode == 0, second.stderr[-2000:]
  assert "[budget00000] resuming at step" in second.stdout
  assert "moved to" not in second.stdout
  steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").open()
           if "loss" in json.loads(line)]
  assert steps == list(range(2, 61, 2))  # every logged step once
  assert (run_dir / "eval" / "metrics.json").is_file()


def _manifest(first_id: str) -> dict:
  """What a resume compares of a study's manifest: each task's example ids and source."""
  return {"train": [{"task": "demo_arith_en_train", "ids": [first_id, "demo_arith_en_train:2"],
                     "source_sha256": "0" * 64}],
          "validation": [{"task": "demo_arith_en_validation", "ids": ["demo_arith_en_validation:1"],
                          "source_sha256": "1" * 64}]}


def test_a_resume_with_other_settings_or_data_is_refused_naming_each(tmp_path, data_dir):
  run_dir = tmp_path / "run"
  first = {"max_steps": 2, "checkpoint_every_steps": 2}
  resume_worker.train(str(run_dir), data_dir, first, stream=io.StringIO(),
                      manifest=_manifest("demo_arith_en_train:1"))
  started = json.loads((run_dir / resume_guard.RESUME_FILE).read_text())
  assert started["identity"]["OptimizerConfig.learning_rate"] == 1e-3
  assert started["recorded_at_step"] == 0 and started["changes"] == []
  before = _snapshot(run_dir)

  changed = {"max_steps": 4, "learning_rate": 3e-3, "seed": 1, "batch_size": 4}
  other_data = _manifest("demo_arith_en_train:7")
  with pytest.raises(UserInputError) as raised:
    resume_worker.train(str(run_dir), data_dir, changed, stream=io.StringIO(),
                        manifest=other_data)
  assert str(raised.value) == (
      "run tiny was started with OptimizerConfig.learning_rate=0.001, now 0.003;"
      " TrainConfig.batch_size=8, now 4; TrainConfig.seed=0, now 1; its data (manifest.json):"
      " train demo_arith_en_train has other examples. Resuming would mix two configurations in"
      f" one run: restore the settings, move {run_dir} aside to start it afresh, or set"
      " --gin.TrainConfig.allow_changed_resume=True to resume anyway")
  assert _snapshot(run_dir) == before  # refused before anything was touched
  # Longer training (max_steps) is no change of configuration.
  resume_worker.train(str(run_dir), data_dir, {"max_steps": 3, "checkpoint_every_steps": 3},
                      stream=io.StringIO(), manifest=_manifest("demo_arith_en_train:1"))

  stream = io.StringIO()
  summary = resume_worker.train(str(run_dir), data_dir, {**changed, "allow_changed_resume": True},
                                stream=stream, manifest=other_data)
  assert summary["resumed_from_step"] == 3
  assert ("[tiny] warning: resuming with changes (TrainConfig.allow_changed_resume):"
          " OptimizerConfig.learning_rate=0.001, now 0.003;") in stream.getvalue()
  record = json.loads((run_dir / resume_guard.RESUME_FILE).read_text())
  assert record["identity"]["OptimizerConfig.learning_rate"] == 3e-3  # the next resume's base
  (change,) = record["changes"]
  assert change["at_step"] == 3 and len(change["differences"]) == 4


def _tensorboard_steps(run_dir) -> dict[str, list[int]]:
  """Per scalar, the steps of its events across every event file of the run."""
  import tensorflow as tf

  steps = {}
  for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(str(path)):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        steps.setdefault(value.tag, []).append(event.step)
  return {tag: sorted(values) for tag, values in steps.items()}


def test_tensorboard_events_past_the_restored_step_are_dropped(tmp_path, data_dir):
  run_dir = tmp_path / "run"
  options = {"max_steps": 4, "checkpoint_every_steps": 2, "validation_every_steps": 2}
  resume_worker.train(str(run_dir), data_dir, options, stream=io.StringIO())
  assert _tensorboard_steps(run_dir)["loss"] == [1, 2, 3, 4]
  # As if killed before step 4's checkpoint was committed: the run resumes at step 2.
  shutil.rmtree(run_dir / "checkpoints" / "4")
  (run_dir / trainer.SUMMARY_FILE).unlink()
  with open(next((run_dir / "tensorboard").glob("events.out.tfevents.*")), "ab") as file:
    file.write(b"\x10\x00\x00")  # and a record torn by the kill
  summary = resume_worker.train(str(run_dir), data_dir, options, stream=io.StringIO())
  assert summary["resumed_from_step"] == 2
  steps = _tensorboard_steps(run_dir)
  assert steps["loss"] == [1, 2, 3, 4]  # steps 3 and 4 once each: this attempt's
  assert steps["validation_loss"] == [2, 4]
  assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2
  assert not list((run_dir / "tensorboard").glob(".tmp-*"))
