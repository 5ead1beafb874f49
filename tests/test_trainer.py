"""The training loop: metrics, progress with an ETA, checkpoints, best selection, fine-tuning
a converted model."""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest
import resume_worker  # tests/ is on sys.path (pytest prepend mode)
from test_progress import FakeClock, FakeTerminal

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import conversion as convert
from xlt_jax.training import metrics_log, sharding, step_functions, trainer
from xlt_jax.training.train_step import OptimizerConfig


@pytest.fixture
def converted_qwen3(tmp_path):
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  torch.manual_seed(0)
  config = transformers.Qwen3Config(vocab_size=1100, hidden_size=32, intermediate_size=48,
                                    num_hidden_layers=2, num_attention_heads=4,
                                    num_key_value_heads=2, head_dim=8, tie_word_embeddings=True)
  transformers.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "hf")
  return convert.hf_to_xlt(str(tmp_path / "hf"), str(tmp_path / "xlt"))


def test_fine_tuning_starts_from_the_converted_params(converted_qwen3, tmp_path, monkeypatch):
  saved_config, saved_params, _ = convert.load_xlt(converted_qwen3)
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  params = step_functions.load_initial_params(converted_qwen3, saved_config, mesh)
  for restored, original in zip(jax.tree.leaves(params), jax.tree.leaves(saved_params)):
    np.testing.assert_array_equal(restored, original)
  assert len(params["layers"]["mlp"]["gate"].sharding.device_set) == 8
  with pytest.raises(UserInputError, match=r"different model: rope_base=10000.0 \(gin: 10.0\)"):
    step_functions.load_initial_params(converted_qwen3, dataclasses.replace(saved_config, rope_base=10.0),
                                mesh)
  with pytest.raises(UserInputError, match="has shape"):
    step_functions.load_initial_params(converted_qwen3, dataclasses.replace(saved_config, mlp_dim=64),
                                mesh)


def test_first_step_from_converted_params_uses_a_fresh_optimizer(converted_qwen3):
  from xlt_jax.training.train_step import build, global_batch
  config, _, _ = convert.load_xlt(converted_qwen3)
  mesh = sharding.make_mesh(sharding.MeshConfig(2, 2, 2))
  functions = build(config, OptimizerConfig(learning_rate=1e-3), mesh)
  state = functions.init_from_params(step_functions.load_initial_params(converted_qwen3, config, mesh))
  assert int(state.step) == 0
  assert all(float(np.abs(leaf).max()) == 0.0 for leaf in jax.tree.leaves(state.opt_state)
             if leaf.ndim > 0)  # Adam moments start at zero
  rng = np.random.default_rng(0)
  tokens = rng.integers(3, 1100, (8, 17)).astype(np.int32)
  batch = {"decoder_input_tokens": tokens[:, :-1], "decoder_target_tokens": tokens[:, 1:],
           "decoder_loss_weights": np.ones((8, 16), np.int32)}
  new_state, metrics = functions.train_step(state, global_batch(batch, functions.batch_sharding))
  assert int(new_state.step) == 1 and np.isfinite(float(metrics["loss"]))
  # A random 1100-way model starts near log(1100) = 7.0.
  assert abs(float(metrics["loss"]) - np.log(1100)) < 0.5


@pytest.fixture(scope="module")
def english_demo_data(tmp_path_factory) -> str:
  path = tmp_path_factory.mktemp("data")
  resume_worker.write_data(str(path))
  return str(path)


def test_every_progress_line_of_a_run_states_its_eta(english_demo_data, tmp_path):
  stream = io.StringIO()  # not a terminal: plain lines, as in logs, CI and pipes
  summary = resume_worker.train(str(tmp_path / "run"), english_demo_data,
                      {"max_steps": 6, "validation_every_steps": 3, "checkpoint_every_steps": 3},
                      stream=stream)
  lines = [line for line in stream.getvalue().splitlines() if line.startswith("[tiny] step")]
  assert len(lines) == 8  # steps 1-6, and the validation losses of steps 3 and 6
  assert all(re.match(r"\[tiny\] step \d/6 eta (\?|\d+s|\d+m\d\ds) \|", line) for line in lines)
  assert lines[0].startswith("[tiny] step 1/6 eta ? |")  # the rate starts after step 1
  assert lines[1].startswith("[tiny] step 2/6 eta ") and " eta ? " not in lines[1]
  assert lines[-1].startswith("[tiny] step 6/6 eta 0s | validation loss")
  assert "\r" not in stream.getvalue()
  # What the study's ETA needs: the time of the steps after the first, compiling one.
  assert 0 < summary["seconds_after_first_step"] < summary["train_seconds"]


def test_a_run_on_a_terminal_draws_one_bar_in_place(english_demo_data, tmp_path):
  terminal = FakeTerminal()
  resume_worker.train(str(tmp_path / "run"), english_demo_data,
                      {"max_steps": 4, "validation_every_steps": 4, "checkpoint_every_steps": 4},
                      stream=terminal)
  written = terminal.getvalue()
  redraws = written.split("\r")[1:]
  assert redraws and all(re.match(r"\[tiny\] (\[[=> ]+\] +\d+% \d/4|step 4/4) eta ", text)
                         for text in redraws)
  assert redraws[0].startswith("[tiny] [======>                 ]  25% 1/4 eta ?")
  assert "[tiny] step 4/4 eta 0s | validation loss" in written  # a line above the bar
  bar_part = written[written.index("\r"):]  # after the lines printed before training
  assert bar_part.endswith("\n") and bar_part.count("\n") == 2


def _metrics_log(tmp_path, stream, clock, **options) -> metrics_log.MetricsLog:
  return metrics_log.MetricsLog(str(tmp_path), "fake", total_steps=100, stream=stream,
                                clock=clock, **options).open()


def test_metrics_log_eta_from_a_fake_clock(tmp_path):
  clock, stream = FakeClock(), io.StringIO()
  log = _metrics_log(tmp_path, stream, clock)
  clock.advance(25.0)  # step 1 compiles
  log.first_step_done(1, compile_seconds=25.0)
  log.write(1, {"loss": 2.0})
  clock.advance(49 * 0.2)  # 5 steps/s
  log.write(50, {"loss": 1.0})
  log.write(50, {"validation_loss": 1.5})
  log.close()
  assert not log.bar_due()  # line mode: no bar
  # The first step's time is its compilation, logged apart: no rate includes it.
  assert stream.getvalue().splitlines() == [
      "[fake] step 1/100 eta ? | loss 2.0000 | first step 25.0s (compilation)",
      "[fake] step 50/100 eta 10s | loss 1.0000 | 5.0 steps/s 0 tokens/s",
      "[fake] step 50/100 eta 10s | validation loss 1.5000",
  ]
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
  assert records[0] == {"step": 1, "loss": 2.0, "compile_seconds": 25.0}
  assert "compile_seconds" not in records[1]
  assert records[1]["steps_per_second"] == pytest.approx(5.0)


def test_metrics_log_redraws_a_bar_on_a_terminal(tmp_path):
  clock, terminal = FakeClock(), FakeTerminal()
  log = _metrics_log(tmp_path, terminal, clock, redraw_seconds=1.0)
  assert log.bar
  clock.advance(20.0)  # step 1 compiles
  log.first_step_done(1)
  for step in range(1, 12):
    clock.advance(0.5 if step > 1 else 0.0)  # 2 steps/s: a redraw every other step
    if log.bar_due():
      log.show_step(step)
  log.write(11, {"loss": 1.25})
  log.write(11, {"validation_loss": 1.5})
  log.close()
  written = terminal.getvalue()
  redraws = written.split("\r")[1:]
  assert [redraw.split("% ")[1].split(" eta")[0] for redraw in redraws[:6]] == [
      "1/100", "3/100", "5/100", "7/100", "9/100", "11/100"]
  assert redraws[0] == "[fake] [>                       ]   1% 1/100 eta ?"
  assert redraws[1] == "[fake] [>                       ]   3% 3/100 eta 48s"
  assert redraws[5] == "[fake] [==>                     ]  11% 11/100 eta 44s"
  assert redraws[6].startswith("[fake] [==>                     ]  11% 11/100 eta 44s"
                               " | loss 1.2500 | ")
  assert redraws[7].startswith("[fake] step 11/100 eta 44s | validation loss 1.5000")
  # The validation line stays; the bar comes back below it and is left there by close().
  assert redraws[7].endswith(" \n" + redraws[6] + "\n")
  assert written.count("\n") == 2


def _count_builds(monkeypatch) -> list:
  """Each call of train_step.build by the trainer, from a fresh cache."""
  builds = []
  real_build = step_functions.build
  monkeypatch.setattr(step_functions, "build", lambda *args, **kwargs: builds.append(args)
                      or real_build(*args, **kwargs))
  step_functions.shared_functions.cache_clear()
  return builds


def test_runs_of_the_same_shapes_in_one_process_build_and_compile_the_step_once(
    english_demo_data, tmp_path, monkeypatch):
  builds = _count_builds(monkeypatch)
  options = {"max_steps": 2, "validation_every_steps": 2, "log_every_steps": 1}
  first = resume_worker.train(str(tmp_path / "a"), english_demo_data, options,
                              stream=io.StringIO())
  second = resume_worker.train(str(tmp_path / "b"), english_demo_data, options,
                               stream=io.StringIO())
  assert len(builds) == 1  # the second run reused the first run's jitted functions
  # (no schedule length, no residual or attention dropout: the arguments the trainer passed)
  step = step_functions.shared_functions(*builds[0], None, 0.0, 0, 0.0).train_step
  assert step.__wrapped__._cache_size() == 1  # one executable for both runs
  for run, summary in (("a", first), ("b", second)):
    records = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").open()]
    assert records[0]["step"] == 1 and records[0]["compile_seconds"] == summary["compile_seconds"]
    assert "steps_per_second" not in records[0]  # no rate includes the first step
  # Another learning rate is another optimizer: built apart.
  step_functions.shared_functions(builds[0][0], OptimizerConfig(learning_rate=0.1),
                                  *builds[0][2:], None, 0.0, 0)
  assert len(builds) == 2


_CACHED_RUN = """
import io, json, sys
sys.path.insert(0, {tests!r})
import resume_worker
from xlt_jax.training import compile_cache
compile_cache.enable({cache!r})
summary = resume_worker.train({run!r}, {data!r}, {{"max_steps": 2, "validation_every_steps": 2}},
                              stream=io.StringIO())
print(json.dumps({{**compile_cache.counts(), "compile_seconds": summary["compile_seconds"]}}))
"""


@pytest.mark.slow
def test_a_second_process_loads_the_compiled_steps_from_the_persistent_cache(
    english_demo_data, tmp_path):
  tests = os.path.dirname(os.path.abspath(resume_worker.__file__))
  cache = tmp_path / "jax_cache"
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=8")
  env.pop("JAX_COMPILATION_CACHE_DIR", None)
  results = []
  for run in ("first", "second"):
    script = _CACHED_RUN.format(tests=tests, cache=str(cache), run=str(tmp_path / run),
                                data=english_demo_data)
    done = subprocess.run([sys.executable, "-c", script], cwd=os.path.dirname(tests), env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if run == "first":
      entries = [path for path in cache.rglob("*") if path.is_file()]
  first, second = results
  assert first["hits"] == 0 and first["misses"] > 0
  assert len(entries) >= first["misses"]  # every program compiled was written
  # The second process compiles nothing that the first one compiled.
  assert second["hits"] >= first["misses"] and second["misses"] == 0, results
