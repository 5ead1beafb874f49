"""Multi-host training: two launcher processes on localhost, 4 CPU devices each, one
8-device mesh (data 2 x fsdp 2 x tensor 2) spanning both, against one process with 8
devices; and a worker that cannot reach its coordinator fails in bounded time."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import seqio

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import evaluator as evaluate
from xlt_jax.evaluation.engine import InferenceEngine
from xlt_jax.models.decoder import Decoder
from xlt_jax.runner import flags, gin_setup
from xlt_jax.training import batches, distributed, sharding
from xlt_jax.training.train_step import build, global_batch

REPO = pathlib.Path(__file__).resolve().parents[1]
STEPS = 3
# The smoke study cut down to one run of STEPS steps on the 8-device mesh: two training
# languages (so the validation mixture has two tasks) and two evaluation languages.
GIN_ARGUMENTS = [
    "--gin_file=gin/smoke_cpu.gin", "--gin_file=gin/meshes/cpu8.gin",
    "--gin.StudyDesign.seen_languages=('es',)", "--gin.StudyDesign.unseen_languages=()",
    "--gin.StudyDesign.budgets=(16,)", "--gin.StudyDesign.english_size=16",
    # 5 validation examples per task: host 0 reads 3 + 3, host 1 reads 2 + 2, so with
    # 4 rows per host the hosts have 2 and 1 batches (the shorter one must pad).
    "--gin.StudyDesign.validation_size=5", "--gin.StudyDesign.evaluation_size=4",
    "--gin.TrainConfig.batch_size=8", f"--gin.TrainConfig.max_steps={STEPS}",
    f"--gin.TrainConfig.validation_every_steps={STEPS}", "--gin.TrainConfig.log_every_steps=1",
    "--gin.EvaluationConfig.checkpoint='latest'", "--gin.EvaluationConfig.batch_size=4",
    "--gin.EvaluationConfig.max_new_tokens=6",
]


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


def _launch_command(model_dir, *extra):
  return [sys.executable, "-m", "xlt_jax.launch", *GIN_ARGUMENTS,
          f"--gin.MODEL_DIR='{model_dir}'", *extra]


def _clean_env(devices: int) -> dict:
  """The pytest process forces 8 devices; each child sets its own count."""
  return dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def _distributed_flags(address, process_id, timeout=60):
  return [f"--gin.DistributedConfig.coordinator_address='{address}'",
          "--gin.DistributedConfig.num_processes=2",
          f"--gin.DistributedConfig.process_id={process_id}",
          f"--gin.DistributedConfig.initialization_timeout_seconds={timeout}"]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
  """The launcher on two processes sharing one MODEL_DIR (as TPU workers share a bucket)."""
  model_dir = tmp_path_factory.mktemp("multihost")
  address = f"127.0.0.1:{_free_port()}"
  processes = [
      subprocess.Popen(_launch_command(model_dir, *_distributed_flags(address, index)),
                       cwd=REPO, env=_clean_env(4), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
      for index in range(2)
  ]
  outputs = []
  try:
    for process in processes:
      outputs.append(process.communicate(timeout=240))
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
        process.wait()
  for process, (stdout, stderr) in zip(processes, outputs):
    assert process.returncode == 0, (stdout[-2000:], stderr[-3000:])
  return model_dir, outputs


def _reference(model_dir):
  """The same run in this process (one process, 8 devices): the hosts' shards of each
  global batch concatenated in host order, the same initialisation and steps."""
  from tasks import mixtures
  from xlt_jax.models.tokenizer import load_vocabulary

  files, bindings, _ = flags.split_gin_flags([*GIN_ARGUMENTS, f"--gin.MODEL_DIR='{model_dir}'"])
  experiment, _ = gin_setup.build_experiment(files, bindings)
  vocabulary = load_vocabulary(str(model_dir / "tokenizer" / "spm.model"))
  (run,) = mixtures.register_study(experiment.study, str(model_dir / "data"), vocabulary)
  [evaluation_tasks] = mixtures.register_evaluation_tasks(
      experiment.study, str(model_dir / "data"), vocabulary).values()
  train = experiment.train
  mesh = sharding.make_mesh(experiment.mesh)
  functions = build(experiment.model, experiment.optimizer, mesh)
  state = functions.init(jax.random.key(train.seed))
  host_streams = [batches.training_batches(run.plan.mixture, train.feature_lengths,
                                           train.batch_size, train.seed,
                                           shard=seqio.ShardInfo(index, 2)) for index in range(2)]
  losses = []
  for _ in range(STEPS):
    host_batches = [next(stream) for stream in host_streams]
    batch = {key: np.concatenate([host[key] for host in host_batches]) for key in host_batches[0]}
    state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
    losses.append(float(metrics["loss"]))
  total, weight = 0.0, 0.0
  for batch in batches.validation_batches(run.plan.validation_mixture, train.feature_lengths,
                                          train.batch_size):
    batch_total, batch_weight = functions.validation_step(
        state.params, global_batch(batch, functions.batch_sharding))
    total, weight = total + float(batch_total), weight + float(batch_weight)
  # Decoding, as xlt_jax.evaluate does it, with the final parameters.
  model = Decoder(experiment.model)
  predictions = {}
  with jax.sharding.set_mesh(mesh), sharding.axis_rules():
    for language, task in evaluation_tasks.items():
      prompts = [[vocabulary.pad_id] + example["prompt_tokens"]
                 for example in batches.evaluation_examples(task)]
      engine = InferenceEngine(model, state.params, vocabulary, stop_ids=(vocabulary.eos_id,),
                               mesh=mesh, batch_size=experiment.evaluation.batch_size)
      decoding = evaluate.sampling_params(experiment.evaluation,
                                          experiment.evaluation.max_new_tokens, ("\n\n",))
      predictions[language] = [completion.text
                               for [completion] in engine.generate(prompts, decoding)]
  return losses, total / weight, predictions


@pytest.mark.slow
def test_two_processes_train_like_one_process_with_8_devices(two_process_run):
  model_dir, outputs = two_process_run
  run_dir = model_dir / "runs" / "budget00016"
  losses, validation_loss, predictions = _reference(model_dir)
  records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
  # Each record once: only the primary process logs.
  assert [record["step"] for record in records] == [*range(1, STEPS + 1), STEPS]
  logged_losses = [record["loss"] for record in records if "loss" in record]
  # Same global batch, same program on the same mesh shape; only the cross-process
  # reductions go through gloo, which may sum float32 partials in another order. Measured:
  # 1.3e-7 relative (about one float32 ulp); 1e-6 allows a few ulps and nothing more.
  np.testing.assert_allclose(logged_losses, losses, rtol=1e-6)
  assert losses[-1] < losses[0]
  np.testing.assert_allclose(records[-1]["validation_loss"], validation_loss, rtol=1e-6)

  # Decoding spans both processes too: the predictions equal this process's decoding.
  rows = [json.loads(line) for line in (run_dir / "eval" / "predictions.jsonl").open()]
  assert len(rows) == 2 * 4
  assert {language: [row["prediction"] for row in rows if row["language"] == language]
          for language in ("en", "es")} == predictions

  # Files written once, by process 0; process 1 printed no progress.
  assert (run_dir / "train_summary.json").is_file()
  assert (model_dir / "report" / "report.md").is_file()
  assert sorted(path.name for path in (run_dir / "checkpoints").iterdir()
                if path.name.isdigit()) == [str(STEPS)]
  assert not [path for path in model_dir.rglob("*") if path.name.startswith(".tmp-")]
  (stdout_0, _), (stdout_1, _) = outputs
  assert "step 3/3" in stdout_0 and "report:" in stdout_0
  assert "step" not in stdout_1


@pytest.mark.slow  # waits out the coordinator's connect timeout
def test_an_unreachable_coordinator_is_one_error_line_in_bounded_time(tmp_path):
  address = f"127.0.0.1:{_free_port()}"  # nothing listens there
  start = time.monotonic()
  result = subprocess.run(
      _launch_command(tmp_path / "out", *_distributed_flags(address, 1, timeout=5)),
      cwd=REPO, env=_clean_env(4), capture_output=True, text=True, timeout=120)
  elapsed = time.monotonic() - start
  assert result.returncode == 2, result.stderr[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert errors == [
      f"error: cannot reach coordinator {address} within 5s (this is process 1 of 2);"
      " is every process running, with the same coordinator address, and is the port open?"
  ], result.stderr[-2000:]
  assert elapsed < 60  # start-up (imports, gin) plus the 5 s timeout, not jax's 300 s default
  assert not (tmp_path / "out").exists()  # nothing was written


@pytest.mark.parametrize("config, message", [
    (distributed.DistributedConfig(coordinator_address="127.0.0.1:1"),
     "must be given together"),
    (distributed.DistributedConfig("127.0.0.1:1", num_processes=2, process_id=2),
     r"process_id 2 is not in \[0, 2\)"),
    (distributed.DistributedConfig(num_processes=0), "num_processes must be >= 1"),
])
def test_inconsistent_settings_are_named(config, message):
  with pytest.raises(UserInputError, match=message):
    distributed.initialize(config)


def test_one_process_needs_no_coordinator():
  """num_processes=1 starts nothing (this pytest process's backend is already running)."""
  assert distributed.initialize(distributed.DistributedConfig(num_processes=1)) is False
  assert distributed.is_primary_process()
  distributed.wait_for_all_processes("a no-op for one process")


SHARED_DIRECTORY_CHECK = """
import sys
from xlt_jax.training import distributed
from xlt_jax.core.errors import UserInputError
address, process_id, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
distributed.initialize(distributed.DistributedConfig(address, 2, process_id,
                                                     initialization_timeout_seconds=60))
try:
  distributed.check_shared_directory(directory)
except UserInputError as error:
  print(f"error: {error}")
  sys.exit(2)
"""


def test_a_model_dir_that_workers_do_not_share_fails_on_every_worker(tmp_path):
  """Each process gets its own directory, as with MODEL_DIR on each TPU worker's disk."""
  address = f"127.0.0.1:{_free_port()}"
  processes = [subprocess.Popen(
      [sys.executable, "-c", SHARED_DIRECTORY_CHECK, address, str(index), str(tmp_path / str(index))],
      cwd=REPO, env=_clean_env(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for index in range(2)]
  for process in processes:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr[-2000:]
    assert "is not shared by all 2 processes: process(es) [1] do not see" in stdout
