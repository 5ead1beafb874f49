"""P4's sections of the report, from ParallelDesign studies written in the evaluator's
layout.

1. Win rates of bilingual over English-only (P4 Table 2) from ten studies (2 tasks x 5
   models, as P4 aggregates) read by `results.collect_results`: English-only scores 0.5
   everywhere; each bilingual run scores 0.6 (a win) or 0.4 in a language, so that EN has
   30 wins of 40 configurations (4 bilingual runs x 10 studies), direct exposure 35 of 40,
   cross-lingual transfer 119 of 160 (4 other evaluation languages, Telugu included). P4's
   printed intervals are Wilson's: 75.0% [59.8, 85.8], 87.5% [73.9, 94.5], 74.4% [67.1, 80.5].
2. A report over two studies (`python -m xlt_jax.report` twice `--results_dir`): the
   change against the base model (study A has eval/base/, study B has not and says so),
   zero-shot against direct exposure with its t-test (scipy.stats.ttest_rel), and the
   pooled regression's instances and fit.
"""

import csv
import json
import math

import numpy as np
import pytest
from evaluated_study import write_evaluation, write_run_record, write_study
from scipy import stats

from xlt_jax import report as report_binary
from xlt_jax.reporting import parallel, results

CORE, UNSEEN = ["en", "es", "ja", "bn", "sw"], ["te"]
LANGUAGES = CORE + UNSEEN
TASKS = {"mgsm": "accuracy", "mapicall": "api_call_exact_match"}


def _write_win_rate_study(root, index: int, task: str, wins: dict[str, list[bool]]) -> None:
  runs = {"n01_en": ["en"], **{f"n02_en_{code}": ["en", code] for code in CORE[1:]}}
  write_study(root, f"p4_{index}", "ParallelDesign", "en", CORE[1:], UNSEEN, runs,
              [(task, TASKS[task])])
  write_evaluation(root, "n01_en", {task: {code: [0.5] for code in LANGUAGES}},
                   TASKS)
  for other in CORE[1:]:
    scores = {}
    for code in LANGUAGES:
      setting = "EN" if code == "en" else "direct" if code == other else "transfer"
      scores[code] = [0.6 if wins[setting].pop() else 0.4]
    write_evaluation(root, f"n02_en_{other}", {task: scores}, TASKS)


def test_win_rates_reproduce_p4_table_2(tmp_path):
  wins = {"EN": [True] * 30 + [False] * 10, "direct": [True] * 35 + [False] * 5,
          "transfer": [True] * 119 + [False] * 41}
  studies = []
  for index in range(10):
    root = tmp_path / f"study{index}"
    _write_win_rate_study(root, index, ["mgsm", "mapicall"][index % 2], wins)
    studies.append(results.collect_results(str(root)))
  written = {}
  parallel.win_rate_blocks(studies, str(tmp_path), written, resamples=100, seed=0)
  with open(written["p4_win_rates"], encoding="utf-8") as file:
    lines = {line["setting"]: line for line in csv.DictReader(file)}
  table_2 = {"EN": (30, 40, "75.0", "59.8", "85.8"),
             "Non-EN (direct exposure)": (35, 40, "87.5", "73.9", "94.5"),
             "Non-EN (cross-lingual transfer)": (119, 160, "74.4", "67.1", "80.5")}
  for setting, (won, total, rate, low, high) in table_2.items():
    line = lines[setting]
    assert (int(line["wins"]), int(line["configurations"])) == (won, total)
    assert [f"{100 * float(line[key]):.1f}" for key in ("win rate", "low", "high")] == [
        rate, low, high]
  # Median change: 35 of 40 changes are +0.1, so the median and its interval are +0.1.
  assert float(lines["Non-EN (direct exposure)"]["median change"]) == pytest.approx(0.1)


MODEL = {"vocab_size": 256, "embed_dim": 64, "num_layers": 2, "num_heads": 4,
         "num_kv_heads": 2, "head_dim": 16, "mlp_dim": 128, "tie_embeddings": True,
         "mlp_gated": True}
RUNS = {"n01_en": ["en"], "n02_en_es": ["en", "es"], "n02_en_ja": ["en", "ja"],
        "n04_without_es": ["en", "ja", "bn", "sw"], "n04_without_ja": ["en", "es", "bn", "sw"]}
ITEMS = 30


def _items(study: int, run: str, language: str) -> list[float]:
  rng = np.random.default_rng(100 * study + 10 * list(RUNS).index(run) + LANGUAGES.index(language))
  chance = 0.3 + 0.1 * len(RUNS[run]) + (0.2 if language in RUNS[run] else 0.0)
  return [float(value) for value in rng.random(ITEMS) < chance]


def _base_items(language: str) -> list[float]:
  return [1.0] * 3 + [0.0] * (ITEMS - 3)  # the base model: 0.1 everywhere


def _write_study(root, index: int, task: str, family: str, with_base: bool):
  write_study(root, f"p4_{family}_{task}", "ParallelDesign", "en", CORE[1:], UNSEEN, RUNS,
              [(task, TASKS[task])])
  for run in RUNS:
    write_evaluation(root, run, {task: {code: _items(index, run, code) for code in LANGUAGES}},
                     TASKS)
    # Study b's run.json records its design (P4's 5 core + 5 additional languages).
    write_run_record(root, run, {**MODEL, "num_layers": 2 + 2 * index},
                     {"core": CORE, "additional": ["fr", "th", "de", "ru", "zh"]} if index
                     else None)
  (root / "base").mkdir()
  # MODEL_DIR/base/model.json as the conversion writes it (hf_config: the base's config.json).
  (root / "base" / "model.json").write_text(
      json.dumps({"model_config": {}, "hf_config": {"model_type": family}}))
  if with_base:
    write_evaluation(root, "n01_en", {task: {code: _base_items(code) for code in LANGUAGES}},
                     TASKS, checkpoint="base")
  return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  base = tmp_path_factory.mktemp("p4")
  first = _write_study(base / "a", 0, "mgsm", "qwen3", with_base=True)
  second = _write_study(base / "b", 1, "mapicall", "gemma3_text", with_base=False)
  out = base / "report"
  assert report_binary.main([f"--results_dir={first}", f"--results_dir={second}",
                             f"--out_dir={out}", "--resamples=100"]) == 0
  return out, (out / "report.md").read_text(encoding="utf-8")


def _csv(path) -> list[dict]:
  with open(path, encoding="utf-8") as file:
    return list(csv.DictReader(file))


def test_change_against_the_base_model_or_a_note_where_it_is_missing(built):
  out, markdown = built
  lines = {line["run"]: line for line in _csv(out / "p4_qwen3_mgsm_mgsm_p4_change_vs_base.csv")}
  assert list(lines) == ["n01_en", "n02_en_es", "n02_en_ja"]
  for run, line in lines.items():
    for code in LANGUAGES:
      assert float(line[code]) == pytest.approx(np.mean(_items(0, run, code)) - 0.1)
  assert "No run has the base model's scores" in markdown  # study b
  assert not (out / "p4_gemma3_text_mapicall_mapicall_p4_change_vs_base.csv").exists()


def test_zero_shot_against_direct_exposure_uses_a_paired_t_test(built):
  out, _ = built
  lines = _csv(out / "p4_qwen3_mgsm_mgsm_p4_zero_shot.csv")
  assert [(line["language"], line["zero-shot run"], line["direct run"]) for line in lines] == [
      ("es", "n04_without_es", "n02_en_es"), ("ja", "n04_without_ja", "n02_en_ja")]
  for line in lines:
    zero = _items(0, line["zero-shot run"], line["language"])
    direct = _items(0, line["direct run"], line["language"])
    reference = stats.ttest_rel(zero, direct)
    assert float(line["t"]) == pytest.approx(reference.statistic)
    assert float(line["p"]) == pytest.approx(reference.pvalue)
    expected = ("indistinguishable" if reference.pvalue >= 0.05 else "zero-shot exceeds"
                if np.mean(zero) > np.mean(direct) else "zero-shot worse")
    assert line["verdict at 0.05"] == expected
  assert (out / "p4_qwen3_mgsm_mgsm_p4_zero_shot.svg").exists()


def test_regression_features_are_built_from_the_runs(built):
  from xlt_jax.models.config import ModelConfig
  from xlt_jax.models.decoder import parameter_count
  from xlt_jax.reporting import statistics

  out, markdown = built
  instances = _csv(out / "p4_regression_instances.csv")
  # 5 runs x 6 languages per study, plus the base model's 6 languages in study a.
  assert len(instances) == 2 * 5 * 6 + 6
  for line in instances:
    trained = RUNS.get(line["run"], [])
    # L_max: study a's runs train on at most 4 languages (no design in its run.json);
    # study b's design has 10.
    l_max = 4 if line["study"] == "p4_qwen3_mgsm" else 10
    assert float(line["coverage"]) == pytest.approx(math.sqrt(len(trained) / l_max))
    assert float(line["eval_language_in_training"]) == float(line["language"] in trained)
    assert float(line["pretrained_only"]) == float(line["run"] == "base")
  for study, layers in [("p4_qwen3_mgsm", 2), ("p4_gemma3_text_mapicall", 4)]:
    line = next(line for line in instances if line["study"] == study)
    exact = parameter_count(ModelConfig(**{**MODEL, "num_layers": layers}))
    assert abs(float(line["log10_size"]) - math.log10(exact)) < 0.002  # norms left out
  # Family, task and size each split the two studies the same way: only the first is kept.
  assert "left out (constant over the instances or collinear" in markdown
  assert "p4_qwen3_mgsm: L_max = 4, the most training languages of its runs" in markdown
  features = ["family = qwen3", "pretrained_only", "eval_language_in_training", "coverage"]
  columns = {"family = qwen3": [float(line["family"] == "qwen3") for line in instances],
             **{name: [float(line[name]) for line in instances] for name in features[1:]}}
  fit = statistics.pooled_regression(columns, [float(line["score"]) for line in instances],
                                     seed=0, resamples=100)
  lines = {line["feature"]: line for line in _csv(out / "p4_regression.csv")}
  assert list(lines) == ["intercept", *features]
  for name, value, (low, high) in zip(fit.names, fit.coefficients, fit.intervals):
    assert [float(lines[name][key]) for key in ("coefficient", "low", "high")] == (
        pytest.approx([value, low, high]))
  assert f"out of sample {fit.r2_test:.3f}" in markdown
