"""The package tree shows the data flow: imports point one way (docs/architecture.md)."""

import ast
import pathlib

import pytest
from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "xlt_jax"
# What each stage may import from the project besides itself (function-level imports count).
ALLOWED = {
    "core": set(),
    "models": {"core"},
    "studies": {"core"},
    "reporting": {"core"},
    "services": {"core"},
    "training": {"core", "models", "studies"},
    "evaluation": {"core", "models", "studies", "training", "tasks", "services"},
    "data": {"core", "evaluation", "tasks", "services"},
    "serving": {"core", "models", "training", "evaluation"},
    "runner": {"core", "models", "studies", "training", "evaluation", "reporting", "data",
               "tasks", "services"},
}
BINARIES = ["launch", "evaluate", "plan", "inspect", "convert", "report", "demo_data", "score",
            "serve"]


def _project_imports(path: pathlib.Path) -> set[str]:
  """The stages (xlt_jax subpackages, or 'tasks') a module imports, anywhere in the file."""
  stages = set()
  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    for name in names:
      parts = name.split(".")
      if parts[0] == "tasks":
        stages.add("tasks")
      elif parts[0] == "xlt_jax" and len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        stages.add(parts[1])
  return stages


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_a_stage_imports_only_the_stages_below_it(stage):
  offenders = {}
  for path in sorted((PACKAGE / stage).rglob("*.py")):
    wrong = _project_imports(path) - ALLOWED[stage] - {stage}
    if wrong:
      offenders[str(path.relative_to(REPO_ROOT))] = sorted(wrong)
  assert not offenders


def test_every_stage_is_listed_and_the_top_level_holds_only_binaries():
  stages = {path.name for path in PACKAGE.iterdir()
            if path.is_dir() and (path / "__init__.py").exists()}
  assert stages == set(ALLOWED)
  top_level = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
  assert top_level == set(BINARIES)


def test_tasks_never_import_the_runner_or_a_binary():
  for path in (REPO_ROOT / "tasks").rglob("*.py"):
    stages = _project_imports(path)
    assert not stages & {"runner", "reporting", "data"}, path
