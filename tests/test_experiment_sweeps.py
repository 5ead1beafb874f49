"""One experiment gin per sweep of the papers (gin/experiments/): each builds through the
real gin setup into the catalogued design of its sweep, with its paper's hyper-parameters.

Run counts and hyper-parameters are those of the studies' reproduction notes, papers.md (the section is cited at
each assertion). The slow test compiles every experiment's train step for its TPU slice
with `python -m xlt_jax.plan --skip_flops` (no TPU needed) and requires FITS.
"""

import dataclasses
import math
import pathlib

import pytest

import gin
from tasks import catalogue
from xlt_jax import plan
from xlt_jax.runner import gin_setup
from xlt_jax.studies import designs

REPO = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Sweep:
  runs: int  # runs the file trains (papers.md counts, per model)
  model: str  # its gin/models/ file
  topology: str  # libtpu topology of its gin/meshes/ file


_8B, _35B = "v5e:8x8", "v5e:16x16"
EXPERIMENTS = {
    # P0 E1: 3 tasks x 8 budgets x 3 models (papers.md P0.1 E1).
    "gin/experiments/p0_e1_xlsum_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e1_sharegpt_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e1_mcot_math_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e1_xlsum_aya23_35b.gin": Sweep(8, "aya23_35b", _35B),
    "gin/experiments/p0_e1_sharegpt_aya23_35b.gin": Sweep(8, "aya23_35b", _35B),
    "gin/experiments/p0_e1_mcot_math_aya23_35b.gin": Sweep(8, "aya23_35b", _35B),
    "gin/experiments/p0_e1_xlsum_llama31_8b.gin": Sweep(8, "llama31_8b", _8B),
    "gin/experiments/p0_e1_sharegpt_llama31_8b.gin": Sweep(8, "llama31_8b", _8B),
    "gin/experiments/p0_e1_mcot_math_llama31_8b.gin": Sweep(8, "llama31_8b", _8B),
    # P0 E2: 16 budgets x Aya 7B and 35B only (papers.md P0.1 E2).
    "gin/experiments/p0_e2_multitask_aya23_8b.gin": Sweep(16, "aya23_8b", _8B),
    "gin/experiments/p0_e2_multitask_aya23_35b.gin": Sweep(16, "aya23_35b", _35B),
    # P0 E3: 2 mixes x 3 tasks x 8 budgets, Aya 7B only (papers.md P0.1 E3).
    "gin/experiments/p0_e3_latin_xlsum_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e3_latin_sharegpt_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e3_latin_mcot_math_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e3_nonlatin_xlsum_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e3_nonlatin_sharegpt_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    "gin/experiments/p0_e3_nonlatin_mcot_math_aya23_8b.gin": Sweep(8, "aya23_8b", _8B),
    # P1: "≈ 58 tuned models" (papers.md P1.1 Run count), PaLM 2-S substituted.
    "gin/experiments/p1_pinch_qwen3_8b.gin": Sweep(58, "qwen3_8b", _8B),
    # P2: per model, 16 runs at LR 1e-4 (9 mono + 4 RTT + 3 multi) and 12 at 1e-6 (papers.md
    # P2.1 Run count: 144 + 32 + 48 = 224 over 8 models = 28 per model).
    "gin/experiments/p2_conditions_llama2_7b.gin": Sweep(16, "llama2_7b", _8B),
    "gin/experiments/p2_conditions_lr1e6_llama2_7b.gin": Sweep(12, "llama2_7b", _8B),
    "gin/experiments/p2_conditions_gemma_2b.gin": Sweep(16, "gemma_2b", _8B),
    "gin/experiments/p2_conditions_lr1e6_gemma_2b.gin": Sweep(12, "gemma_2b", _8B),
    "gin/experiments/p2_conditions_gemma_7b.gin": Sweep(16, "gemma_7b", _8B),
    "gin/experiments/p2_conditions_lr1e6_gemma_7b.gin": Sweep(12, "gemma_7b", _8B),
    "gin/experiments/p2_conditions_qwen1_5_7b.gin": Sweep(16, "qwen1_5_7b", _8B),
    "gin/experiments/p2_conditions_lr1e6_qwen1_5_7b.gin": Sweep(12, "qwen1_5_7b", _8B),
    "gin/experiments/p2_conditions_qwen1_5_0_5b.gin": Sweep(16, "qwen1_5_0_5b", _8B),
    "gin/experiments/p2_conditions_lr1e6_qwen1_5_0_5b.gin": Sweep(12, "qwen1_5_0_5b", _8B),
    "gin/experiments/p2_conditions_qwen1_5_1_8b.gin": Sweep(16, "qwen1_5_1_8b", _8B),
    "gin/experiments/p2_conditions_lr1e6_qwen1_5_1_8b.gin": Sweep(12, "qwen1_5_1_8b", _8B),
    "gin/experiments/p2_conditions_qwen1_5_4b.gin": Sweep(16, "qwen1_5_4b", _8B),
    "gin/experiments/p2_conditions_lr1e6_qwen1_5_4b.gin": Sweep(12, "qwen1_5_4b", _8B),
    "gin/experiments/p2_conditions_qwen1_5_14b.gin": Sweep(16, "qwen1_5_14b", _8B),
    "gin/experiments/p2_conditions_lr1e6_qwen1_5_14b.gin": Sweep(12, "qwen1_5_14b", _8B),
    # P3: Llama 2 7B "7 native + 5 MT variants = 12" less the full-Guanaco upper bound, which
    # is not a run of the design; 70B and Falcon: the native series (papers.md P3.1).
    "gin/experiments/p3_polyglot_llama2_7b.gin": Sweep(11, "llama2_7b", _8B),
    "gin/experiments/p3_polyglot_llama2_70b.gin": Sweep(6, "llama2_70b", _35B),
    "gin/experiments/p3_polyglot_falcon_7b.gin": Sweep(6, "falcon_7b", _8B),
    # P4: 22 mixtures x 2 tasks x 5 models = 220 runs (papers.md P4.1 Mixture design).
    "gin/experiments/p4_math_qwen3_0_6b.gin": Sweep(22, "qwen3_0_6b", _8B),
    "gin/experiments/p4_api_qwen3_0_6b.gin": Sweep(22, "qwen3_0_6b", _8B),
    "gin/experiments/p4_math_qwen3_1_7b.gin": Sweep(22, "qwen3_1_7b", _8B),
    "gin/experiments/p4_api_qwen3_1_7b.gin": Sweep(22, "qwen3_1_7b", _8B),
    "gin/experiments/p4_math_qwen3_8b.gin": Sweep(22, "qwen3_8b", _8B),
    "gin/experiments/p4_api_qwen3_8b.gin": Sweep(22, "qwen3_8b", _8B),
    "gin/experiments/p4_math_gemma3_1b.gin": Sweep(22, "gemma3_1b", _8B),
    "gin/experiments/p4_api_gemma3_1b.gin": Sweep(22, "gemma3_1b", _8B),
    "gin/experiments/p4_math_gemma3_4b.gin": Sweep(22, "gemma3_4b", _8B),
    "gin/experiments/p4_api_gemma3_4b.gin": Sweep(22, "gemma3_4b", _8B),
}
# Each paper's design and training-protocol fragments, included by all its experiments.
FRAGMENTS = {
    "p0_e1": ("gin/studies/p0_single_task.gin", "gin/training/p0.gin"),
    "p0_e2": ("gin/studies/p0_multitask.gin", "gin/training/p0.gin"),
    "p0_e3": ("gin/studies/p0_single_task.gin", "gin/training/p0.gin"),
    "p1": ("gin/studies/p1_pinch.gin", "gin/training/p1.gin"),
    "p2": ("gin/studies/p2_conditions.gin", "gin/training/p2.gin"),
    "p3": ("gin/studies/p3_polyglot.gin", "gin/training/p3.gin"),
    "p4_math": ("gin/studies/p4_math.gin", "gin/training/p4.gin"),
    "p4_api": ("gin/studies/p4_api.gin", "gin/training/p4.gin"),
}


def _model_config(path: str):
  """The ModelConfig that a gin/models/ file alone builds."""
  gin_setup._register()
  gin.clear_config()
  try:
    gin.parse_config_file(str(REPO / path))
    return gin.get_configurable("ModelConfig")()
  finally:
    gin.clear_config()


def _build(path: str):
  experiment, _ = gin_setup.build_experiment([path], [])
  return experiment, designs.plan_runs(experiment.study)


def _of(prefix: str) -> list[str]:
  return [path for path in EXPERIMENTS if pathlib.Path(path).name.startswith(prefix)]


def test_every_experiment_file_is_listed():
  shipped = {str(path.relative_to(REPO)) for path in (REPO / "gin/experiments").glob("*.gin")}
  assert shipped == set(EXPERIMENTS)


@pytest.mark.parametrize("path", list(EXPERIMENTS), ids=lambda p: pathlib.Path(p).stem)
def test_experiment_builds_its_catalogued_sweep_on_its_model_and_slice(path):
  expected = EXPERIMENTS[path]
  experiment, runs = _build(path)
  assert len(runs) == expected.runs
  # The runs are the catalogue's (tasks/catalogue.py): the same mixture names, portions,
  # pools and seeds that `python -m xlt_jax.inspect` lists; the same test sets.
  assert runs == [catalogue.plan_for(run.mixture) for run in runs]
  assert (experiment.study.evaluation_sets()
          == catalogue.design_for(runs[0].mixture).evaluation_sets())
  assert experiment.mesh.topology == expected.topology
  text = (REPO / path).read_text()
  assert f"include 'gin/models/{expected.model}.gin'" in text or "include 'gin/experiments/" in text
  # The checkpoint's architecture unchanged; the experiment chooses only precision and remat.
  base = _model_config(f"gin/models/{expected.model}.gin")
  assert dataclasses.replace(experiment.model, dtype=base.dtype, param_dtype=base.param_dtype,
                             remat_policy=base.remat_policy) == base
  # Full-size runs with bfloat16 matmuls over float32 weights (updates of 1e-5 to 1e-4).
  assert (experiment.model.dtype, experiment.model.param_dtype) == ("bfloat16", "float32")
  assert experiment.model_dir == f"xlt_runs/{pathlib.Path(path).stem}"
  for prefix, fragments in FRAGMENTS.items():
    if pathlib.Path(path).name.startswith(prefix):
      for fragment in fragments:
        assert f"include '{fragment}'" in text or "include 'gin/experiments/" in text


def test_p0_protocol_and_run_totals():
  """papers.md P0.1: batch 64 unpacked, constant LR 1e-5, checkpoints every 50 steps
  selected by validation loss; E1 totals 10,000 ... 30,000; E2 up to 99,000; E3 up to
  20,000; "Grand total ≈ 152 fine-tuning runs"."""
  totals = {}
  for path in _of("p0_"):
    experiment, runs = _build(path)
    train, optimizer = experiment.train, experiment.optimizer
    assert (train.batch_size, train.pack, train.num_steps, train.lora.rank) == (64, False, None, 0)
    assert (optimizer.learning_rate, optimizer.schedule, optimizer.warmup_steps) == (
        1e-5, "constant", 0)
    assert train.validation_every_steps == train.checkpoint_every_steps == 50
    assert experiment.evaluation.selection == "min_validation_loss"
    totals[pathlib.Path(path).stem] = [sum(run.train_counts.values()) for run in runs]
  assert len(totals) == 17 and sum(len(runs) for runs in totals.values()) == 152
  assert totals["p0_e1_sharegpt_llama31_8b"] == [10_000, 10_400, 10_800, 11_600, 13_200, 14_000,
                                                 18_000, 30_000]
  assert totals["p0_e2_multitask_aya23_8b"][-1] == 99_000
  assert totals["p0_e3_nonlatin_xlsum_aya23_8b"][0] == 10_000
  assert totals["p0_e3_latin_mcot_math_aya23_8b"][-1] == 20_000


def test_p0_script_mixes_and_tasks_are_p0s():
  """papers.md P0.1 Table 1 and E3: Latin mix [en + es, fr], non-Latin [en + ja, zh]; IF is
  tested on Aya's Dolly-200, MR on MGSM with P0's translated pt, ko, ar."""
  experiment, _ = _build("gin/experiments/p0_e3_latin_sharegpt_aya23_8b.gin")
  assert experiment.study.seen_languages == ("es", "fr")
  assert experiment.study.evaluation_sets()[0].dataset == "dolly_machine_translated"
  experiment, _ = _build("gin/experiments/p0_e3_nonlatin_mcot_math_aya23_8b.gin")
  assert experiment.study.seen_languages == ("ja", "zh")
  assert experiment.study.evaluation_sets()[0].dataset == "mgsm_p0"
  assert set(experiment.study.evaluation_languages) == {"en", "es", "fr", "ja", "zh", "ar", "ko",
                                                       "pt"}


def test_p1_protocol():
  """papers.md P1.1 Appendix C: 2,000 steps, fixed LR 1e-5, batch 128, dropout 0.05, inputs
  1,024 and targets 512 tokens, a 250-example dev set, checkpoint by dev ROUGE-L; decoding
  with nucleus p 0.9, temperature 0.7, up to 512 tokens."""
  experiment, runs = _build("gin/experiments/p1_pinch_qwen3_8b.gin")
  train, optimizer, evaluation = experiment.train, experiment.optimizer, experiment.evaluation
  assert (train.num_steps, train.batch_size, train.dropout_rate) == (2000, 128, 0.05)
  assert (train.inputs_length, train.targets_length, train.lora.rank) == (1024, 512, 0)
  assert (optimizer.learning_rate, optimizer.schedule) == (1e-5, "constant")
  assert experiment.study.validation_size == 250
  assert (evaluation.selection, evaluation.selection_metric) == ("max_validation_score", "rouge_l")
  assert (evaluation.temperature, evaluation.top_p, evaluation.max_new_tokens) == (0.7, 0.9, 512)
  # Every run holds the same 4,390 examples (4,640 less the dev set), each in one language.
  assert {run.total for run in runs} == {4390}
  assert all(train.total_steps(run.total) == 2000 for run in runs)


def test_p2_protocol():
  """papers.md P2.1 Training: LoRA r 8, alpha 16, dropout 0.05 on q, k, v over an 8-bit
  frozen base; LR 1e-4 and 1e-6; effective batch 64; 10 epochs; best by validation
  perplexity; RTT at 1e-4 only."""
  paths = _of("p2_")
  assert len(paths) == 16  # 8 models x 2 learning rates
  assert sum(EXPERIMENTS[path].runs for path in paths) == 224  # 144 + 32 + 48
  for path in paths:
    experiment, runs = _build(path)
    lora, train = experiment.train.lora, experiment.train
    assert (lora.rank, lora.alpha, lora.dropout, lora.base_dtype) == (8, 16.0, 0.05, "int8")
    assert lora.targets == ("q_proj", "k_proj", "v_proj")
    assert (train.batch_size, train.num_epochs, train.num_steps) == (64, 10, None)
    assert experiment.evaluation.selection == "min_validation_perplexity"
    rtt = [run.name for run in runs if run.name.startswith("rtt_")]
    if "_lr1e6_" in path:
      assert experiment.optimizer.learning_rate == 1e-6 and not rtt
    else:
      assert experiment.optimizer.learning_rate == 1e-4 and len(rtt) == 4
    # Native sizes es 3,854, ru 423, zh 3,944; the multilingual runs 8 x 241 = 1,928.
    sizes = {run.name: run.total for run in runs}
    assert (sizes["native_es"], sizes["native_ru"], sizes["translated_google_zh"]) == (
        3854, 423, 3944)
    assert sizes["multi_native"] == sizes["multi_translated_cohere"] == 1928
    assert train.total_steps(423) == 10 * 7  # ceil(423 / 64) steps per epoch


def test_p3_protocol():
  """papers.md P3.1 Training: LoRA r 64, alpha 16; 2,000 steps; effective batch 64; LR 1e-5;
  sequences over 1,024 tokens truncated; the Guanaco format; 3,200 examples per run."""
  for path in _of("p3_"):
    experiment, runs = _build(path)
    train = experiment.train
    assert (train.lora.rank, train.lora.alpha) == (64, 16.0)
    assert (train.num_steps, train.batch_size, experiment.optimizer.learning_rate) == (
        2000, 64, 1e-5)
    assert train.inputs_length + train.targets_length == 1024
    assert train.chat_template == "guanaco"
    assert {run.total for run in runs} == {3200}
    assert runs[-1].train_counts == {"en": 2200, "es": 200, "ru": 200, "de": 200, "zh": 200,
                                     "fr": 200}  # Multi-6


def test_p4_protocol():
  """papers.md P4.1 Training: 6 epochs, AdamW LR 1e-5, cosine with 3% warmup, weight decay
  0.01, global batch 512, best by mean validation accuracy; 10,000 parallel math examples
  and 200 for validation per language, 3,174 - 150 API examples and 150."""
  paths = _of("p4_")
  assert len(paths) == 10 and sum(EXPERIMENTS[path].runs for path in paths) == 220
  for path in paths:
    experiment, runs = _build(path)
    train, optimizer = experiment.train, experiment.optimizer
    assert (train.num_epochs, train.num_steps, train.batch_size, train.lora.rank) == (
        6, None, 512, 0)
    assert (optimizer.learning_rate, optimizer.schedule, optimizer.warmup_fraction,
            optimizer.weight_decay) == (1e-5, "cosine", 0.03, 0.01)
    assert experiment.evaluation.selection == "max_validation_score"
    assert train.keep_every_n_steps == train.validation_every_steps  # every candidate kept
    math_task = "_math_" in path
    count, validation = (10_000, 200) if math_task else (3_024, 150)
    assert (experiment.study.count, experiment.study.validation_size) == (count, validation)
    assert runs[-1].train_counts == dict.fromkeys(
        ("en", "es", "ja", "bn", "sw", "fr", "th", "de", "ru", "zh"), count)
    assert train.total_steps(count) == 6 * math.ceil(count / 512)


# Compiles every experiment's train and evaluation steps for its slice: minutes each (up to
# ten for the 35B and 70B on 2 CPU cores), so this is on demand only, outside the slow run
# CI makes: `python -m pytest -m pod tests/test_experiment_sweeps.py`.
@pytest.mark.pod
@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: pathlib.Path(p).stem)
def test_experiment_fits_its_slice(path, capsys):
  """`python -m xlt_jax.plan --gin_file=PATH --skip_flops` says FITS (exit 0): the train
  step (the LoRA step for P2 and P3), the evaluation's decoding and its log-likelihood
  scoring."""
  assert plan.main([f"--gin_file={path}", "--skip_flops"]) == 0
  assert capsys.readouterr().out.splitlines()[-1] == "FITS"
