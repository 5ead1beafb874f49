"""The TPU VM scripts in launch/: their --dry-run prints the gcloud commands they would run."""

import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

from xlt_jax.runner import flags

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch"
WHERE = ["--tpu=xlt-v5p-256", "--zone=us-east5-a", "--project=my-project", "--dry-run"]
SCRIPTS = sorted(path.name for path in LAUNCH.glob("*.sh") if path.name != "common.sh")


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


@pytest.mark.parametrize("typed, gcloud_name, runtime", [
    ("v5e-256", "v5litepod-256", "v2-alpha-tpuv5-lite"),  # as the README and people say it
    ("v5e-8", "v5litepod-8", "v2-alpha-tpuv5-lite"),
    ("v5litepod-64", "v5litepod-64", "v2-alpha-tpuv5-lite"),  # gcloud's own names pass
    ("v5p-128", "v5p-128", "v2-alpha-tpuv5"),
    ("v6e-16", "v6e-16", "v2-alpha-tpuv6e"),
])
def test_create_accepts_the_accelerator_names_people_type(typed, gcloud_name, runtime):
  result = subprocess.run(["bash", str(LAUNCH / "create.sh"), *WHERE,
                           f"--accelerator-type={typed}"], capture_output=True, text=True,
                          timeout=60)
  assert result.returncode == 0, result.stderr
  (create,) = [shlex.split(line) for line in result.stdout.splitlines()]
  assert f"--accelerator-type={gcloud_name}" in create
  assert f"--runtime-version={runtime}" in create
  if typed != gcloud_name:  # the dry run says what it translated
    assert result.stderr == f"# --accelerator-type={typed} is gcloud's {gcloud_name}\n"
  else:
    assert not result.stderr


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


def _help(script: str, flag: str = "--help") -> str:
  result = subprocess.run(["bash", str(LAUNCH / script), flag], capture_output=True,
                          text=True, timeout=60)
  assert result.returncode == 0 and not result.stderr, (script, result.stderr)
  return result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_answers_before_required_flags_with_every_flag_and_an_example(script):
  text = _help(script)
  assert text == _help(script, "-h")
  assert f"Usage: launch/{script} --tpu=NAME --zone=ZONE" in text and "Example" in text
  for common in ("--tpu=NAME", "--zone=ZONE", "--project=PROJECT", "--dry-run", "--help"):
    assert common in text
  # Every flag the script's own parser accepts is documented.
  patterns = re.findall(r"^\s+(--[\w.=*|-]+)\) ", (LAUNCH / script).read_text(), re.M)
  accepted = {flag.rstrip("=*.") for pattern in patterns for flag in pattern.split("|")}
  assert all(flag in text for flag in accepted), accepted


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_example_in_help_runs(script):
  text = _help(script)
  example = text.split("Example", 1)[1].split(":\n", 1)[1].split("\n\n", 1)[0]
  words = shlex.split(example.replace("\\\n", " "))
  assert words[0] == f"launch/{script}"
  commands = _dry_run(script, *words[1:], "--dry-run")
  assert commands and all(command[0] in ("gcloud", "git") for command in commands)


def test_every_gin_file_named_in_the_launch_scripts_and_readme_exists():
  named = {}
  for path in [*sorted(LAUNCH.glob("*.sh")), REPO / "README.md"]:
    for name in re.findall(r"\bgin/[\w./-]*?\.gin\b", path.read_text()):
      named.setdefault(name, path.name)
  assert "gin/aya8b_single_task.gin" in named and "gin/demo_cpu.gin" in named
  missing = {name: where for name, where in named.items() if not (REPO / name).is_file()}
  assert not missing
