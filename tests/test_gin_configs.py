"""Every shipped gin experiment parses and builds its Experiment (STYLE P10)."""

import pathlib

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.runner import flags, gin_setup

REPO = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(path.relative_to(REPO) for path in (REPO / "gin").glob("*.gin"))
FRAGMENTS = sorted(path.relative_to(REPO) for path in (REPO / "gin").glob("*/*.gin"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=str)
def test_experiment_files_build(path):
  experiment, operative = gin_setup.build_experiment([str(path)], ["MODEL_DIR = '/tmp/x'"])
  assert experiment.model_dir == "/tmp/x"
  assert experiment.study.budgets
  assert "ModelConfig.embed_dim" in operative


@pytest.mark.parametrize("path", FRAGMENTS, ids=str)
def test_every_fragment_is_used_by_an_experiment_or_a_test(path):
  users = [p.read_text() for p in (REPO / "gin").glob("*.gin")]
  users += [p.read_text() for p in (REPO / "tests").glob("test_*.py")]
  assert any(str(path) in text for text in users), f"{path} is dead configuration"


def test_gin_flags_become_bindings():
  files, bindings, rest = flags.split_gin_flags(
      ["--gin_file=gin/demo_cpu.gin", "--gin.MODEL_DIR='/x'", "--other"])
  assert files == ["gin/demo_cpu.gin"]
  assert bindings == ["MODEL_DIR = '/x'"]
  assert rest == ["--other"]


@pytest.mark.parametrize("bindings, message", [
    (["TrainConfig.batch_sise = 4"], "batch_sise"),
    (["NoSuchThing.value = 1"], "NoSuchThing"),
    (["StudyDesign.budgets = (0, 0)"], "distinct"),
])
def test_gin_mistakes_are_named(bindings, message):
  with pytest.raises(UserInputError, match=message):
    gin_setup.build_experiment(["gin/smoke_cpu.gin"], bindings)


def test_missing_gin_file_and_required_model_dir(tmp_path):
  with pytest.raises(UserInputError, match="gin file gin/nope.gin does not exist"):
    gin_setup.build_experiment(["gin/nope.gin"], [])
  experiment_file = tmp_path / "e.gin"
  experiment_file.write_text("include 'gin/models/tiny_test.gin'\n"
                             "include 'gin/meshes/cpu.gin'\ninclude 'gin/runs/study.gin'\n")
  with pytest.raises(UserInputError, match="MODEL_DIR|Required"):
    gin_setup.build_experiment([str(experiment_file)], [])


@pytest.mark.parametrize("binding, message", [
    ("MODEL_DIR = /tmp/x", "--gin.MODEL_DIR=/tmp/x: gin values are Python literals; quote strings:"
                           """ --gin.MODEL_DIR="'/tmp/x'\""""),
    ("StudyDesign.dataset = demo_arith", "--gin.StudyDesign.dataset=demo_arith: gin values are"
     """ Python literals; quote strings: --gin.StudyDesign.dataset="'demo_arith'\""""),
    ("StudyDesign.budgets = (0, 16", "--gin.StudyDesign.budgets=(0, 16: not a Python literal"
                                     " (EOF in multi-line statement)"),
    ("TrainConfig.batch_sise = 4", "--gin.TrainConfig.batch_sise=4: Configurable 'TrainConfig'"
                                   " doesn't have a parameter named 'batch_sise'."),
    ("StudyDesign.budgets = (0, 0)", "study 'smoke': budgets (0, 0) must be distinct and >= 0"),
])
def test_a_bad_binding_is_one_line_naming_its_flag(binding, message):
  with pytest.raises(UserInputError) as raised:
    gin_setup.build_experiment(["gin/smoke_cpu.gin"], ["MODEL_DIR = '/tmp/x'", binding])
  assert str(raised.value) == message


def test_includes_resolve_outside_the_repository_without_path_noise(tmp_path, monkeypatch, caplog):
  monkeypatch.chdir(tmp_path)
  experiment, _ = gin_setup.build_experiment(["gin/smoke_cpu.gin"], ["MODEL_DIR = '/tmp/x'"])
  assert experiment.study.name == "smoke"
  assert not [record for record in caplog.records if "Path not found" in record.getMessage()]
  (tmp_path / "e.gin").write_text("include 'gin/models/nope.gin'\n")
  with pytest.raises(UserInputError, match="gin/models/nope.gin"):
    gin_setup.build_experiment(["e.gin"], [])
  assert not [record for record in caplog.records if "Path not found" in record.getMessage()]
