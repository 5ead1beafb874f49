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
            "xlt_jax.convert", "xlt_jax.demo_data", "xlt_jax.inspect", "xlt_jax.data"]


def _user_environment(**extra) -> dict[str, str]:
  """The environment of a user's shell: none of the variables the tests set for JAX/TF."""
  environment = {key: value for key, value in os.environ.items()
                 if key not in ("JAX_PLATFORMS", "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS")}
  environment["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
  return {**environment, **extra}


def _probe(*arguments: str, timeout: int = 120) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-c", PROBE, *arguments], cwd=REPO,
                        env=_user_environment(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", [[name] for name in BINARIES]
                         + [["xlt_jax.convert", "verify"], ["xlt_jax.data", "prepare"]], ids=" ".join)
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
