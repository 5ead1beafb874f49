"""The plan binary: the real train step compiled by libtpu for a small TPU topology."""

import json
import re

import pytest

from xlt_jax import plan
from xlt_jax.core.errors import UserInputError
from xlt_jax.studies import designs as study
from xlt_jax.training import sharding, step_plan
from xlt_jax.training.trainer import TrainConfig

# A small model on a 2x2 v5e slice, every mesh axis but slice and data split.
SMALL = ["--gin_file=gin/smoke_cpu.gin", "--topology=v5e:2x2",
         "--gin.MeshConfig.data=1", "--gin.MeshConfig.fsdp=2", "--gin.MeshConfig.tensor=2",
         "--gin.ModelConfig.embed_dim=256", "--gin.ModelConfig.mlp_dim=1024",
         "--gin.ModelConfig.num_heads=8", "--gin.ModelConfig.num_kv_heads=4",
         "--gin.ModelConfig.head_dim=32", "--gin.ModelConfig.num_layers=4",
         "--gin.TrainConfig.inputs_length=112", "--gin.TrainConfig.targets_length=16",
         # The evaluation's decoding is planned too: 256-token sequences keep it quick.
         "--gin.EvaluationConfig.max_length=256"]


@pytest.mark.slow
def test_a_small_model_fits_and_its_numbers_agree(tmp_path, capsys):
  output = tmp_path / "plan.json"
  assert plan.main([*SMALL, f"--output={output}"]) == 0
  printed = capsys.readouterr().out
  assert printed.splitlines()[-1] == "FITS"
  assert "v5e:2x2: 4 x TPU v5e" in printed
  record = json.loads(output.read_text())
  step = record["step"]
  assert step["chips"] == 4 and step["hbm_bytes"] == 16 * 2**30
  assert step["mesh_shape"] == {"slice": 1, "data": 1, "fsdp": 2, "tensor": 2}
  # float32 parameters split 4 ways (the 1-D norm scales only 2 ways: a little more).
  total_parameter_bytes = step["parameter_count"] * 4
  assert total_parameter_bytes / 4 <= step["parameter_bytes"] < 1.05 * total_parameter_bytes / 4
  # AdamW keeps two moments per parameter, sharded like it.
  assert step["optimizer_bytes"] == pytest.approx(2 * step["parameter_bytes"], rel=0.01)
  assert step["parameter_bytes"] + step["optimizer_bytes"] <= step["argument_bytes"]
  assert step["total_bytes"] >= step["argument_bytes"] + step["temporary_bytes"] - 1
  # No remat: XLA's count of all layers is the analytic count plus softmax, norms and
  # the optimizer (a few percent); the raw count sees the layer loop body once.
  assert 1.0 <= step["compiled_over_analytic"] < 1.15, step["compiled_over_analytic"]
  assert step["compiled_flops_loop_body_once"] < 0.6 * step["compiled_flops"]
  # 16 x 128 tokens at 197 TFLOP/s x 40% on 4 chips.
  assert step["step_seconds"] == pytest.approx(
      4 * step["analytic_flops"] / (4 * 197e12 * 0.4), rel=1e-6)
  # libtpu's own estimate, extrapolated from the probes, and what it implies.
  seconds = step["estimated_step_seconds"]
  assert seconds > 0 and step["estimate_note"] is None
  assert step["estimated_mfu"] == pytest.approx(step["analytic_flops"] / (197e12 * seconds))
  assert step["estimated_tokens_per_second_per_chip"] == pytest.approx(16 * 128 / (4 * seconds))
  assert "estimated by the compiler (optimal_seconds)" in printed
  # smoke_cpu: English 48 plus 0/16/32 per seen language (2), batch 16, 2 epochs.
  assert [run["examples"] for run in record["sweep"]["runs"]] == [48, 80, 112]
  assert [run["steps"] for run in record["sweep"]["runs"]] == [6, 10, 14]
  assert record["sweep"]["total_chip_hours"] == pytest.approx(
      30 * step["step_seconds"] * 4 / 3600)


def test_a_step_that_cannot_fit_exits_1(tmp_path, capsys):
  # The tiny model, but attention scores of 32k-token sequences: hundreds of GiB per
  # chip, which libtpu refuses to compile; the plan reports its figure.
  output = tmp_path / "plan.json"
  assert plan.main(["--gin_file=gin/smoke_cpu.gin", "--topology=v5e:2x2",
                    "--gin.MeshConfig.data=1", "--gin.MeshConfig.fsdp=2",
                    "--gin.MeshConfig.tensor=2", "--gin.TrainConfig.inputs_length=32768",
                    "--skip_evaluation", f"--output={output}"]) == 1
  last_line = capsys.readouterr().out.splitlines()[-1]
  assert last_line.startswith("DOES NOT FIT:") and "> 16 GiB HBM" in last_line
  step = json.loads(output.read_text())["step"]
  assert step["compiled_flops"] is None and "RESOURCE_EXHAUSTED" in step["compiler_message"]
  assert step["temporary_bytes"] > 16 * 2**30 and not step["fits"]


@pytest.mark.parametrize("arguments, message", [
    (["--gin.MeshConfig.tensor=8"], (r"topology v5e:2x2 \(4 chips\): mesh .* needs 16 devices but 4"
      r" are available, and no fsdp size fits keeping MeshConfig.tensor=8, MeshConfig.data=1,"
      r" MeshConfig.slice=1 \(4 devices are not divisible by 8\)")),
    (["--topology=v5e:3x3"], "unknown TPU topology 'v5e:3x3'"),
    (["--gin.MeshConfig.tensro=2"], "tensro"),
    (["--mfu=2"], "mfu 2.0 must be in"),
    (["--gin.TrainConfig.batch_size=3"], "batch of 3 sequences cannot be split"),
])
def test_bad_input_exits_2_naming_the_problem(arguments, message, capsys):
  assert plan.main([*SMALL, *arguments]) == 2
  error = capsys.readouterr().err.strip().splitlines()[-1]
  assert error.startswith("error: ")
  assert re.search(message, error), error


def test_topology_defaults_to_the_mesh_file(capsys):
  # cpu.gin names no topology: the binary says how to give one.
  assert plan.main(["--gin_file=gin/smoke_cpu.gin"]) == 2
  assert "no --topology given" in capsys.readouterr().err


@pytest.mark.parametrize("mesh_file, chips", [
    ("gin/meshes/v5e_64.gin", 64), ("gin/meshes/v5e_256.gin", 256),
    ("gin/meshes/v5p_64.gin", 32)])
def test_pod_meshes_match_their_topology_and_split_batch_64(mesh_file, chips):
  from xlt_jax.runner import gin_setup

  experiment, _ = gin_setup.build_experiment(
      ["gin/smoke_cpu.gin", mesh_file], ["TrainConfig.batch_size = 64"])
  devices = step_plan.topology_devices(experiment.mesh.topology)
  assert len(devices) == chips
  shape = dict(zip(sharding.MESH_AXES, experiment.mesh.shape(chips)))
  assert 64 % (shape["slice"] * shape["data"] * shape["fsdp"]) == 0


def test_slice_axis_is_outermost_and_batch_splits_over_it():
  assert sharding.MeshConfig(data=2, fsdp=2, tensor=1, slice=2).shape(8) == (2, 2, 2, 1)
  assert dict(sharding.LOGICAL_AXIS_RULES)["batch"] == ("slice", "data", "fsdp")


def test_sweep_estimate_is_runs_times_steps_times_step_time():
  design = study.StudyDesign(name="s", dataset="xlsum", seen_languages=("es", "fr"),
                             unseen_languages=(), budgets=(0, 100), english_size=1000)
  runs = step_plan.estimate_sweep(study.plan_runs(design), TrainConfig(batch_size=64),
                                  step_seconds=2.0, chips=256)
  assert [(run.examples, run.steps) for run in runs] == [(1000, 16), (1200, 19)]
  assert runs[1].chip_hours == pytest.approx(19 * 2.0 * 256 / 3600)


def test_unknown_topology_is_a_user_error():
  with pytest.raises(UserInputError, match="unknown TPU topology 'v9z:2x2'"):
    step_plan.topology_devices("v9z:2x2")


def test_the_p0_multitask_experiment_counts_every_task_of_the_sweep():
  """P0 E2: 5k English per task x 3 tasks, plus 3 tasks x 4 languages x budget per run."""
  from xlt_jax.runner import gin_setup, study_runner

  experiment, _ = gin_setup.build_experiment(["gin/aya35b_multitask.gin"], [])
  runs = study.plan_runs(experiment.study)
  assert len(runs) == 16
  examples = {run.budget: sum(run.train_counts.values()) for run in runs}
  assert examples[0] == 15_000 and examples[7000] == 15_000 + 3 * 4 * 7000  # 99,000
  assert sum(examples.values()) == 871_200
  # The launcher scores every run on each task's own test set with that dataset's metric.
  assert [(task["task"], task["dataset"], task["metric"])
          for task in study_runner._evaluation_tasks(experiment.study)] == [
      ("sharegpt", "dolly_machine_translated", "llm_judge"), ("xlsum", "xlsum", "rouge_l"),
      ("mcot_math", "mgsm_p0", "accuracy")]


def test_skip_flops_answers_from_one_compile_on_a_mesh_derived_for_the_topology(tmp_path,
                                                                             capsys):
  # gin's mesh wants 16 chips (fsdp 8 x tensor 2); v5e:2x2 has 4: fsdp becomes 2.
  output = tmp_path / "plan.json"
  assert plan.main([*SMALL, "--gin.MeshConfig.fsdp=8", "--skip_flops", f"--output={output}"]) == 0
  captured = capsys.readouterr()
  assert captured.out.splitlines()[-1] == "FITS"
  assert ("topology        v5e:2x2: 4 x TPU v5e, mesh slice 1 x data 1 x fsdp 2 x tensor 2\n"
          "  derived       from gin's mesh slice 1 x data 1 x fsdp 8 x tensor 2 for 4 chips"
          ) in captured.out
  assert "FLOP probe" not in captured.err and "compiled      skipped" in captured.out
  step = json.loads(output.read_text())["step"]
  assert step["mesh_shape"] == {"slice": 1, "data": 1, "fsdp": 2, "tensor": 2}
  assert step["mesh_derived_from"] == {"slice": 1, "data": 1, "fsdp": 8, "tensor": 2}
  assert step["fits"] and step["compiled_flops"] is None and not step["flop_probes"]
  assert step["estimated_step_seconds"] is None
  assert step["estimate_note"].startswith("not estimated: --skip_flops")


def test_the_35b_mesh_is_refitted_to_16_chips_keeping_tensor():
  from xlt_jax.runner import gin_setup

  experiment, _ = gin_setup.build_experiment(["gin/aya35b_multitask.gin"], [])
  assert experiment.mesh.shape(256) == (1, 1, 64, 4)
  fitted = sharding.fit_fsdp(experiment.mesh, 16)
  assert fitted.shape(16) == (1, 1, 4, 4)
  assert sharding.fit_fsdp(experiment.mesh, 256) is experiment.mesh  # fits: unchanged
  with pytest.raises(UserInputError, match=r"needs 256 devices but 6 are available, and no fsdp"
                     r" size fits keeping MeshConfig.tensor=4, MeshConfig.data=1,"
                     r" MeshConfig.slice=1 \(6 devices are not divisible by 4\)"):
    sharding.fit_fsdp(experiment.mesh, 6)


def test_libtpu_estimates_a_matmul_near_the_chip_peak():
  """`optimal_seconds` exists on this jax/libtpu: an 8192^3 bf16 matmul over v5e:2x2."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  from jax.sharding import Mesh, NamedSharding, PartitionSpec

  devices = step_plan.topology_devices("v5e:2x2")
  mesh = Mesh(np.asarray(devices).reshape(2, 2), ("rows", "columns"))
  n = 8192
  left = jax.ShapeDtypeStruct((n, n), jnp.bfloat16,
                              sharding=NamedSharding(mesh, PartitionSpec("rows", None)))
  right = jax.ShapeDtypeStruct((n, n), jnp.bfloat16,
                               sharding=NamedSharding(mesh, PartitionSpec(None, "columns")))
  compiled = jax.jit(jnp.matmul, out_shardings=NamedSharding(
      mesh, PartitionSpec("rows", "columns"))).lower(left, right).compile()
  seconds = step_plan.optimal_seconds(compiled)
  at_peak = 2 * n**3 / (4 * 197e12)  # 1.40 ms per chip at v5e's bf16 peak
  assert at_peak <= seconds < 1.5 * at_peak, seconds


def test_libtpu_estimates_a_probe_whose_concatenations_it_does_not_cost():
  """From a vocabulary of 4096 the step holds ConcatBitcast ops, each -1 s in libtpu's
  optimal_seconds; the estimate adds them back (0.36 ms for this 1-layer probe)."""
  import dataclasses

  from xlt_jax.runner import flags, gin_setup

  files, bindings, _ = flags.split_gin_flags(SMALL)
  experiment, _ = gin_setup.build_experiment(files, bindings)
  mesh = sharding.make_mesh(experiment.mesh, step_plan.topology_devices("v5e:2x2"))
  probe = dataclasses.replace(experiment.model, num_layers=1, scan_unroll=1, vocab_size=4096)
  compiled = step_plan._compile(
      step_plan._build_step(probe, experiment.optimizer, experiment.train, mesh, None), mesh)
  seconds = step_plan.optimal_seconds(compiled)
  assert seconds is not None and 1e-4 < seconds < 1e-2, compiled.cost_analysis()
