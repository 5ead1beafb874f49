"""The TPU VM scripts in launch/: their --dry-run prints the gcloud commands they would run."""

import pathlib
import shlex
import shutil
import subprocess

import pytest

from xlt_jax.runner import flags

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch"
WHERE = ["--tpu=xlt-v5p-256", "--zone=us-east5-a", "--project=my-project", "--dry-run"]


def _dry_run(script: str, *arguments: str) -> list[list[str]]:
  """The printed commands, each split back into its arguments as the shell would."""
  result = subprocess.run(["bash", str(LAUNCH / script), *arguments], capture_output=True,
                          text=True, timeout=60)
  assert result.returncode == 0, result.stderr
  return [shlex.split(line) for line in result.stdout.splitlines()]


def _remote_launch_arguments(command: list[str]) -> list[str]:
  """The launcher arguments inside an `ssh --worker=all --command=...` command."""
  assert command[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "xlt-v5p-256"]
  assert "--worker=all" in command and "--zone=us-east5-a" in command
  (remote,) = [part.split("=", 1)[1] for part in command if part.startswith("--command=")]
  words = shlex.split(remote)
  assert words[:6] == ["cd", "xlt-jax", "&&", "python3", "-m", "xlt_jax.launch"], words
  return words[6:]


def test_run_sends_the_same_launcher_command_to_every_worker():
  arguments = ["--gin_file=gin/smoke_cpu.gin", "--gin.MODEL_DIR='/mnt/shared/runs/a b'",
               "--gin.StudyDesign.budgets=(0, 50)"]
  (command,) = _dry_run("run.sh", *WHERE, *arguments)
  remote = _remote_launch_arguments(command)
  assert remote == arguments  # quotes and spaces arrive unchanged
  files, bindings, rest = flags.split_gin_flags(remote)
  assert files == ["gin/smoke_cpu.gin"] and not rest
  assert bindings == ["MODEL_DIR = '/mnt/shared/runs/a b'", "StudyDesign.budgets = (0, 50)"]


def test_run_detached_survives_the_ssh_session():
  (command,) = _dry_run("run.sh", *WHERE, "--detach", "--gin_file=gin/demo_cpu.gin")
  (remote,) = [part for part in command if part.startswith("--command=")]
  assert remote == ("--command=cd xlt-jax && nohup python3 -m xlt_jax.launch"
                    " --gin_file=gin/demo_cpu.gin > launch.log 2>&1 &")


def test_create_requests_a_queued_resource_and_waits():
  create, describe = _dry_run("create.sh", *WHERE, "--accelerator-type=v5p-256", "--spot",
                              "--wait")
  assert create == ["gcloud", "compute", "tpus", "queued-resources", "create", "xlt-v5p-256",
                    "--zone=us-east5-a", "--project=my-project", "--node-id=xlt-v5p-256",
                    "--accelerator-type=v5p-256", "--runtime-version=v2-alpha-tpuv5", "--spot"]
  assert describe[:6] == ["gcloud", "compute", "tpus", "queued-resources", "describe",
                          "xlt-v5p-256"]
  (v5e,) = _dry_run("create.sh", *WHERE, "--accelerator-type=v5litepod-64")
  assert "--runtime-version=v2-alpha-tpuv5-lite" in v5e and "--spot" not in v5e


def test_setup_copies_the_committed_tree_to_every_worker_and_installs_it():
  archive, copy, install = _dry_run("setup.sh", *WHERE)
  assert archive[:4] == ["git", "-C", str(REPO), "archive"] and archive[-1] == "HEAD"
  tarball = archive[-2].split("=", 1)[1]
  assert copy[:7] == ["gcloud", "compute", "tpus", "tpu-vm", "scp", tarball,
                      "xlt-v5p-256:xlt-jax.tar.gz"]
  assert "--worker=all" in copy and "--worker=all" in install
  (remote,) = [part.split("=", 1)[1] for part in install if part.startswith("--command=")]
  assert "tar -xzf xlt-jax.tar.gz -C xlt-jax" in remote
  assert remote.endswith("python3 -m pip install --quiet -e xlt-jax")


def test_sweep_runs_one_launch_per_entry_in_order():
  commands = _dry_run("sweep.sh", *WHERE, "--gin_file=gin/smoke_cpu.gin",
                      "--sweep=--gin.MODEL_DIR='/mnt/a' --gin.StudyDesign.budgets=(0,)",
                      "--sweep=--gin_file=gin/meshes/cpu8.gin --gin.MODEL_DIR='/mnt/b'")
  assert [_remote_launch_arguments(command) for command in commands] == [
      ["--gin_file=gin/smoke_cpu.gin", "--gin.MODEL_DIR='/mnt/a'",
       "--gin.StudyDesign.budgets=(0,)"],
      ["--gin_file=gin/smoke_cpu.gin", "--gin_file=gin/meshes/cpu8.gin",
       "--gin.MODEL_DIR='/mnt/b'"],
  ]


def test_delete_releases_the_queued_resource():
  (command,) = _dry_run("delete.sh", *WHERE)
  assert command[:6] == ["gcloud", "compute", "tpus", "queued-resources", "delete", "xlt-v5p-256"]
  assert "--force" in command


@pytest.mark.parametrize("script, arguments, message", [
    ("run.sh", ["--zone=z", "--gin_file=g.gin"], "--tpu=NAME is required"),
    ("run.sh", ["--tpu=t", "--zone=z", "--dry-run"], "give at least one --gin_file"),
    ("run.sh", ["--tpu=t", "--zone=z", "--dry-run", "--gin_file=g", "--mesh=x"],
     "unknown argument --mesh=x"),
    ("create.sh", ["--tpu=t", "--zone=z", "--dry-run", "--accelerator-type=v9-8"],
     "no default runtime version for v9-8"),
    ("sweep.sh", ["--tpu=t", "--zone=z", "--dry-run", "--gin_file=g"], "at least one --sweep"),
])
def test_bad_arguments_exit_2_with_one_error_line(script, arguments, message):
  result = subprocess.run(["bash", str(LAUNCH / script), *arguments], capture_output=True,
                          text=True, timeout=60)
  assert result.returncode == 2 and not result.stdout
  assert result.stderr.startswith("error: ") and message in result.stderr
  assert len(result.stderr.splitlines()) == 1


def test_scripts_parse_and_pass_shellcheck_where_installed():
  scripts = sorted(LAUNCH.glob("*.sh"))
  assert len(scripts) == 6
  for script in scripts:
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, (script.name, syntax.stderr)
  if shutil.which("shellcheck"):
    lint = subprocess.run(["shellcheck", "-x", *map(str, scripts)], capture_output=True,
                          text=True, cwd=LAUNCH)
    assert lint.returncode == 0, lint.stdout
