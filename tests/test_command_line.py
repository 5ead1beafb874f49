"""What a new user meets first, for every binary, in real subprocesses: `--help` answers
before JAX or TensorFlow load, and a bad input prints one `error:` line and nothing
else, with no JAX_PLATFORMS or TF_CPP_MIN_LOG_LEVEL set and from any directory."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# Runs a binary as `python -m` does, then says which heavy libraries it imported.
PROBE = """
import runpy, sys
name, sys.argv = sys.argv[1], sys.argv[1:]
try:
  runpy.run_module(name, run_name="__main__", alter_sys=True)
finally:
  heavy = [module for module in ("jax", "tensorflow") if module in sys.modules]
  print("imported:", " ".join(heavy) or "nothing heavy")
"""

BINARIES = ["xlt_jax.launch", "xlt_jax.plan", "xlt_jax.evaluate", "xlt_jax.report",
            "xlt_jax.convert", "xlt_jax.demo_data", "xlt_jax.inspect", "xlt_jax.data",
            "xlt_jax.score", "xlt_jax.serve"]


def _user_environment(**extra) -> dict[str, str]:
  """The environment of a user's shell: none of the variables the tests set for JAX/TF."""
  environment = {key: value for key, value in os.environ.items()
                 if key not in ("JAX_PLATFORMS", "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS")}
  environment["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
  return {**environment, **extra}


def _probe(*arguments: str, timeout: int = 120) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-c", PROBE, *arguments], check=False, cwd=REPO,
                        env=_user_environment(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", [[name] for name in BINARIES]
                         + [["xlt_jax.convert", "verify"], ["xlt_jax.data", "prepare"],
                            ["xlt_jax.data", "translate"], ["xlt_jax.data", "complete"],
                            ["xlt_jax.score", "rouge"], ["xlt_jax.score", "language_confusion"],
                            ["xlt_jax.score", "qa"], ["xlt_jax.score", "api_call"],
                            ["xlt_jax.score", "mgsm"], ["xlt_jax.score", "mgsm_cot"]],
                         ids=" ".join)
def test_help_answers_with_an_example_before_jax_or_tensorflow_loads(command):
  result = _probe(*command, "--help")
  assert result.returncode == 0, result.stderr[-2000:]
  lines = result.stdout.splitlines()
  assert lines[0].startswith("usage: python -m "), lines[0]
  assert any(line.startswith("example: python -m xlt_jax.") for line in lines), result.stdout
  assert lines[-1] == "imported: nothing heavy"
  assert result.stderr == ""


@pytest.mark.parametrize("binary", ["xlt_jax.launch", "xlt_jax.plan"])
@pytest.mark.parametrize("arguments, message", [
    ([], "error: no --gin_file given (e.g. --gin_file=gin/demo_cpu.gin)"),
    (["--gin_file=gin/smoke_cpu.gin", "--bogus"], "error: unrecognized arguments: --bogus"),
    (["--gin_file=gin/smoke_cpu.gin", "--gin.MODEL_DIR"],
     "error: gin flag '--gin.MODEL_DIR' must look like --gin.NAME=VALUE"),
])
def test_flag_mistakes_are_one_line_before_jax_loads(binary, arguments, message):
  result = _probe(binary, *arguments)
  assert result.returncode == 2
  (line,) = result.stderr.splitlines()
  assert line.startswith(message), line
  assert result.stdout.splitlines()[-1] == "imported: nothing heavy"


def _one_error_line(result: subprocess.CompletedProcess) -> str:
  assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
  lines = result.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
  return lines[0]


def test_an_unquoted_gin_string_outside_the_repository_is_one_line_naming_the_flag(tmp_path):
  """From another directory gin files are found without gin's "Path not found" lines;
  neither TensorFlow nor libtpu prints anything first."""
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin",
       f"--gin.MODEL_DIR={tmp_path}/run"],
      check=False, cwd=tmp_path, env=_user_environment(), capture_output=True, text=True,
      timeout=300)
  assert _one_error_line(result) == (
      f"error: --gin.MODEL_DIR={tmp_path}/run: gin values are Python literals; quote strings:"
      f""" --gin.MODEL_DIR="'{tmp_path}/run'\"""")
  assert not (tmp_path / "run").exists()


def test_an_impossible_budget_is_the_only_stderr_line(tmp_path):
  """Past the data, the tokenizer and JAX's start-up: still only our line on stderr."""
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.launch", "--gin_file=gin/smoke_cpu.gin",
       f"--gin.MODEL_DIR='{tmp_path}'", "--gin.StudyDesign.budgets=(0, 999999)"],
      check=False, cwd=REPO, env=_user_environment(), capture_output=True, text=True,
      timeout=600)
  assert _one_error_line(result).startswith("error: budget 999999 for task demo_arith_es_train")


def test_evaluate_on_a_missing_run_is_one_line_without_jax_platforms(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.evaluate", f"--run_dir={tmp_path}/none"],
      check=False, cwd=REPO, env=_user_environment(), capture_output=True, text=True,
      timeout=300)
  assert _one_error_line(result) == (
      f"error: {tmp_path}/none/run.json does not exist: is {tmp_path}/none a run directory?")


def test_serve_on_a_missing_checkpoint_is_one_line_without_jax_platforms(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.serve", f"--model={tmp_path}/none"],
      check=False, cwd=REPO, env=_user_environment(), capture_output=True, text=True, timeout=300)
  assert _one_error_line(result) == f"error: base checkpoint {tmp_path}/none does not exist"
