"""P0's multi-task smoke study judged offline, end to end: the instruction-following task's
judge is a checkpoint served by `python -m xlt_jax.serve` on loopback, reached through the
same OpenAI-compatible client a GPT-4o judge would be (gin: EvaluationConfig.judge and
judge_service). A tiny random judge writes no parsable rating, so its replies are re-asked
once and then counted as unparsable, never scored; responses failing the language check
score 1 without a request (P0's switch-aware rule)."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

openai = pytest.importorskip("openai")
from test_base_checkpoint import _save_base  # noqa: E402

from xlt_jax.data import demo  # noqa: E402
from xlt_jax.serving.app import free_port  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def _wait_until_served(process, port: int, name: str) -> None:
  client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused",
                         max_retries=0, timeout=60)
  deadline = time.monotonic() + 300
  while True:
    try:
      assert [model.id for model in client.models.list().data] == [name]
      return
    except openai.APIConnectionError:
      assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
      time.sleep(1)


@pytest.mark.slow
def test_p0_multi_task_study_with_a_locally_served_judge(tmp_path):
  demo_dir = tmp_path / "demo"
  demo.write_demo_dataset(str(demo_dir), {"train": 16, "validation": 4, "test": 4}, seed=0)
  judge_dir = _save_base("llama", tmp_path / "judge", demo_dir)
  port = free_port()
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  server = subprocess.Popen(
      [sys.executable, "-m", "xlt_jax.serve", f"--model={judge_dir}", f"--port={port}",
       "--served_name=local-judge", "--max_model_len=2048"],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  try:
    _wait_until_served(server, port, "local-judge")
    model_dir = tmp_path / "study"
    result = subprocess.run(
        [sys.executable, "-m", "xlt_jax.launch", "--gin_file=gin/smoke/p0_multi.gin",
         f"--gin.MODEL_DIR='{model_dir}'", "--gin.MultiTaskDesign.budgets=(0,)",
         "--gin.EvaluationConfig.judge=@JudgeConfig()",
         "--gin.JudgeConfig.max_tokens=16",
         "--gin.EvaluationConfig.judge_service=@ChatServiceConfig()",
         f"--gin.ChatServiceConfig.base_url='http://127.0.0.1:{port}/v1'",
         "--gin.ChatServiceConfig.model='local-judge'", "--gin.ChatServiceConfig.api_key_env=''"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
  finally:
    server.terminate()
    server.wait(timeout=60)
  assert result.returncode == 0, result.stderr[-3000:]
  run_dir = model_dir / "runs" / "budget00000"
  metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
  sharegpt = metrics["tasks"]["sharegpt"]
  assert sharegpt["primary"] == "judge_score"
  assert sharegpt["judge"]["model"] == "local-judge" and sharegpt["judge"]["switch_aware"]
  rows = [json.loads(line) for line in (run_dir / "eval" / "predictions.jsonl").open()]
  judged = [row for row in rows if row["task"] == "sharegpt"]
  statuses = {row["judge"]["status"] for row in judged}
  assert statuses <= {"scored", "wrong_language", "unparsable"}, statuses
  for row in judged:  # every raw reply kept; only parsed or rule-given ratings scored
    asked = row["judge"]["status"] != "wrong_language"
    assert bool(row["judge"]["replies"]) == asked
    assert ("judge_score" in row["scores"]) == (row["judge"]["status"] != "unparsable")
  counted = {language: sum(entry.values()) for language, entry
             in sharegpt["judge"]["languages"].items()}
  assert counted == {language: 4 for language in ("en", "es", "ja", "ar", "pt")}
  assert metrics["judge_usage"]["requests"] > 0
  assert "chat service usage:" in result.stdout + result.stderr
  assert {"xlsum", "mcot_math"} <= set(metrics["tasks"])  # the other tasks by their metrics
  report = (model_dir / "report" / "report.md").read_text()
  assert "sharegpt: judge_score" in report and "xlsum: rouge_l" in report
