"""A study with MODEL_DIR on gs://, end to end, against a GCS server on loopback.

The launcher and the evaluation binary run as subprocesses with unmodified gs:// clients
(TensorFlow's filesystem under etils.epath and tf.summary, tensorstore under orbax)
pointed at `fake_gcs.FakeGcs`. Nothing may land on local disk: the subprocesses run in
an empty directory that must stay empty (a `./gs:` folder is how os.path once handled a
gs:// MODEL_DIR), and every result is read back from the bucket.
"""

import json
import os
import pathlib
import subprocess
import sys

import fake_gcs  # tests/ is on sys.path (pytest's rootdir-relative import)
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BUCKET = "xlt-test-bucket"
MODEL_DIR = f"gs://{BUCKET}/studies/smoke"
RUN = "runs/budget00000"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
  with fake_gcs.FakeGcs(str(tmp_path_factory.mktemp("gcs-certificates"))) as server:
    yield server


def _run(module: str, arguments: list[str], gcs: fake_gcs.FakeGcs, cwd: pathlib.Path):
  env = dict(os.environ, **gcs.environment(), JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1",
             PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
  return subprocess.run([sys.executable, "-m", module, *arguments], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=900)


def _text(gcs: fake_gcs.FakeGcs, relative: str) -> str:
  return gcs.read(BUCKET, f"studies/smoke/{relative}").decode("utf-8")


@pytest.mark.slow
def test_smoke_study_with_model_dir_on_gcs(gcs, tmp_path):
  workdir = tmp_path / "cwd"
  workdir.mkdir()
  result = _run("xlt_jax.launch", [
      f"--gin_file={REPO / 'gin' / 'smoke_cpu.gin'}", f"--gin.MODEL_DIR='{MODEL_DIR}'",
      "--gin.StudyDesign.budgets=(0,)"], gcs, workdir)
  assert result.returncode == 0, result.stderr[-4000:]
  assert f"report: {MODEL_DIR}/report/report.md" in result.stdout
  assert not gcs.refused_connects  # nothing tried to reach another host
  assert not list(workdir.iterdir()), "files landed on local disk"
  assert not (REPO / "gs:").exists()

  objects = gcs.objects(BUCKET)
  prefix = "studies/smoke/"
  # The report, read back from the bucket.
  report = _text(gcs, "report/report.md")
  assert "| budget00000 | 0 |" in report
  table = _text(gcs, "report/table.csv").splitlines()
  assert table[0] == "language,0" and table[-1].startswith("Avg.,")
  assert gcs.read(BUCKET, prefix + "report/scores_by_budget.png").startswith(b"\x89PNG")
  # Training metrics and TensorBoard events.
  lines = [json.loads(line) for line in _text(gcs, f"{RUN}/metrics.jsonl").splitlines()]
  assert any("validation_loss" in line for line in lines)
  assert any("loss" in line and "tokens_per_second" in line for line in lines)
  assert any(name.startswith(f"{prefix}{RUN}/tensorboard/events.out.tfevents") for name in objects)
  summary = json.loads(_text(gcs, f"{RUN}/train_summary.json"))
  assert json.loads(_text(gcs, f"{RUN}/eval/metrics.json"))["checkpoint_step"] == summary["best_step"]
  assert gcs.read(BUCKET, prefix + "tokenizer/spm.model")
  assert gcs.read(BUCKET, prefix + "data/demo_arith/train/es.tsv").count(b"\n") == 64
  # Complete orbax checkpoints, and no temporary files of the atomic writes left behind.
  committed = [name for name in objects
               if name.startswith(f"{prefix}{RUN}/checkpoints/") and name.endswith("/commit_success.txt")]
  assert any(name.endswith(f"checkpoints/{summary['steps']}/commit_success.txt") for name in committed)
  assert not [name for name in objects if "/.tmp-" in name]

  # A checkpoint read back from the bucket: the evaluation binary restores the latest one.
  gcs.delete(BUCKET, f"{prefix}{RUN}/eval/metrics.json")
  evaluated = _run("xlt_jax.evaluate", [f"--run_dir={MODEL_DIR}/{RUN}", "--checkpoint=latest",
                                        "--batch_size=8", "--max_new_tokens=8"], gcs, workdir)
  assert evaluated.returncode == 0, evaluated.stderr[-4000:]
  metrics = json.loads(_text(gcs, f"{RUN}/eval/metrics.json"))
  assert metrics["checkpoint_step"] == summary["steps"]
  assert sorted(metrics["tasks"]["demo_arith"]["languages"]) == ["ar", "en", "es", "ja", "pt"]
  assert not list(workdir.iterdir()), "files landed on local disk"
