"""The report of a multi-task study (P0 multi-task layout) built by hand in tmp_path.

Study: English en, seen es and ja, unseen pt and ko (Latin: es, pt; non-Latin: ja, ko);
three tasks (xlsum / rouge_l, mgsm / accuracy, sharegpt / lpr) and budgets 0, 100, 1000,
budget 100 run twice (seeds 1 and 2). Every expected number below is derived by hand
from the scores this file writes.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import report

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SEEN, UNSEEN = ["es", "ja"], ["pt", "ko"]
LANGUAGES = ["en", *SEEN, *UNSEEN]
BUDGETS = [0, 100, 1000]
# xlsum ROUGE-L per language and budget; each language's 4 items are m-0.1, m+0.1 twice.
XLSUM = {"en": [0.40, 0.40, 0.40], "es": [0.20, 0.30, 0.36], "ja": [0.10, 0.20, 0.30],
         "pt": [0.20, 0.24, 0.28], "ko": [0.10, 0.12, 0.14]}
# The two seeds of budget 100 move Spanish by +0.02 and -0.02 (their mean is XLSUM's).
SEED_SHIFT = {1: 0.02, 2: -0.02}
# mgsm: correct answers out of 10 items.
MGSM = {"en": [6, 6, 6], "es": [2, 5, 7], "ja": [1, 3, 5], "pt": [3, 4, 5], "ko": [1, 2, 2]}
LPR = {"en": [0.9, 0.9], "es": [0.5, 0.8], "ja": [0.4, 0.7], "pt": [0.6, 0.6], "ko": [0.3, 0.5]}
RESAMPLES = 300


def _xlsum_items(mean: float) -> list[float]:
  return [mean - 0.1, mean + 0.1, mean - 0.1, mean + 0.1]


def _runs() -> list[dict]:
  return [{"name": "b0", "budget": 0, "run_dir": "runs/b0"},
          {"name": "b100s1", "budget": 100, "seed": 1, "run_dir": "runs/b100s1"},
          {"name": "b100s2", "budget": 100, "seed": 2, "run_dir": "runs/b100s2"},
          {"name": "b1000", "budget": 1000, "run_dir": "runs/b1000"}]


def _write_study(root: pathlib.Path, skip_runs=()) -> pathlib.Path:
  root.mkdir(parents=True, exist_ok=True)
  (root / "study.json").write_text(json.dumps({
      "study": "p0_multi_smoke", "english": "en", "seen_languages": SEEN,
      "unseen_languages": UNSEEN, "budgets": BUDGETS, "runs": _runs()}))
  for run in _runs():
    if run["name"] in skip_runs:
      continue
    column = BUDGETS.index(run["budget"])
    shift = SEED_SHIFT.get(run.get("seed"), 0.0)
    tasks, items = {}, []
    xlsum = {language: XLSUM[language][column] + (shift if language == "es" else 0.0)
             for language in LANGUAGES}
    tasks["xlsum"] = {"metric": "rouge_l", "languages": {
        language: {"rouge_l": value, "count": 4} for language, value in xlsum.items()}}
    items += [{"task": "xlsum", "language": language, "id": f"xlsum:{index}",
               "scores": {"rouge_l": value}}
              for language in LANGUAGES for index, value in enumerate(_xlsum_items(xlsum[language]))]
    tasks["mgsm"] = {"metric": "accuracy", "languages": {
        language: {"accuracy": MGSM[language][column] / 10, "count": 10,
                   "correct": MGSM[language][column]} for language in LANGUAGES}}
    if run["budget"] != 1000:  # budget 1000 has no mgsm items: Wilson intervals instead
      items += [{"task": "mgsm", "language": language, "id": f"mgsm:{index}",
                 "scores": {"accuracy": float(index < MGSM[language][column])}}
                for language in LANGUAGES for index in range(10)]
    if run["budget"] != 1000:  # sharegpt was never evaluated at budget 1000 (unfinished)
      tasks["sharegpt"] = {"metric": "lpr", "languages": {
          language: {"lpr": LPR[language][column], "count": 5} for language in LANGUAGES}}
    eval_dir = root / run["run_dir"] / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "metrics.json").write_text(json.dumps({
        "run": run["name"], "budget": run["budget"], "checkpoint_step": 300, "tasks": tasks}))
    (eval_dir / "predictions.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
  return root


# Checkpoints of run b1000: seen and unseen xlsum means per step (es = ja and pt = ko).
CHECKPOINT_SEEN = [0.10, 0.20, 0.15, 0.30]
CHECKPOINT_UNSEEN = [0.05, 0.12, 0.14, 0.11]


def _write_checkpoints(root: pathlib.Path) -> None:
  for step, (seen, unseen) in zip([100, 200, 300, 400], zip(CHECKPOINT_SEEN, CHECKPOINT_UNSEEN)):
    directory = root / "runs" / "b1000" / "eval" / "checkpoints" / str(step)
    directory.mkdir(parents=True)
    values = {"en": 0.4, "es": seen, "ja": seen, "pt": unseen, "ko": unseen}
    (directory / "metrics.json").write_text(json.dumps({"tasks": {"xlsum": {
        "metric": "rouge_l", "languages": {language: {"rouge_l": value, "count": 4}
                                           for language, value in values.items()}}}}))


def _csv(path: str) -> list[dict]:
  with open(path, encoding="utf-8") as file:
    return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = _write_study(tmp_path_factory.mktemp("study"))
  _write_checkpoints(root)
  written = report.build_report(str(root), resamples=RESAMPLES, seed=0)
  return root, written, pathlib.Path(written["report"]).read_text(encoding="utf-8")


def test_each_task_gets_its_table_in_the_papers_layout(built):
  _, written, markdown = built
  for heading in ["### xlsum: rouge_l", "### mgsm: accuracy", "### sharegpt: lpr"]:
    assert heading in markdown
  # Spanish at budget 100 averages its two seeds: (0.32 + 0.28) / 2 = 0.30.
  assert "| es | 0.20 | 0.30 | 0.36 |" in markdown
  # Avg. at budget 0: (0.40 + 0.20 + 0.10 + 0.20 + 0.10) / 5 = 0.20; at 100:
  # (0.40 + 0.30 + 0.20 + 0.24 + 0.12) / 5 = 0.252; at 1000: (0.40 + 0.36 + 0.30 + 0.28 + 0.14) / 5.
  table = _csv(written["xlsum_rouge_l_table"])
  avg = next(line for line in table if line["language"] == "Avg.")
  assert [float(avg[str(budget)]) for budget in BUDGETS] == pytest.approx([0.20, 0.252, 0.296])
  # mgsm Avg. at budget 0: (6 + 2 + 1 + 3 + 1) / 50.
  assert "| Avg. | 0.26 | 0.40 | 0.50 |" in markdown
  # sharegpt has budgets 0 and 100 only.
  assert [line["language"] for line in _csv(written["sharegpt_lpr_table"])][-1] == "Avg."
  assert list(_csv(written["sharegpt_lpr_table"])[0]) == ["language", "0", "100"]


def test_derived_rows_seen_unseen_relative_and_script_groups(built):
  _, written, markdown = built
  summary = {int(line["budget"]): line for line in _csv(written["xlsum_rouge_l_summary"])}
  # Seen (es, ja): 0.15, 0.25, 0.33; unseen (pt, ko): 0.15, 0.18, 0.21.
  assert [float(summary[b]["seen_mean"]) for b in BUDGETS] == pytest.approx([0.15, 0.25, 0.33])
  assert [float(summary[b]["unseen_mean"]) for b in BUDGETS] == pytest.approx([0.15, 0.18, 0.21])
  assert [float(summary[b]["seen_unseen_gap"]) for b in BUDGETS] == pytest.approx([0, 0.07, 0.12])
  # Non-English mean 0.15, 0.215, 0.27 over English's 0.40.
  assert [float(summary[b]["relative_to_english"]) for b in BUDGETS] == pytest.approx(
      [0.375, 0.5375, 0.675])
  # (seen + unseen) / 2 / English equals it here (two languages each); Avg. / English is
  # 0.20 / 0.40, 0.252 / 0.40, 0.296 / 0.40:
  assert [float(summary[b]["avg_relative_to_english"]) for b in BUDGETS] == pytest.approx(
      [0.5, 0.63, 0.74])
  # Latin (es, pt): 0.20, 0.27, 0.32; non-Latin (ja, ko): 0.10, 0.16, 0.22.
  assert [float(summary[b]["Latin_mean"]) for b in BUDGETS] == pytest.approx([0.20, 0.27, 0.32])
  assert [float(summary[b]["non-Latin_mean"]) for b in BUDGETS] == pytest.approx(
      [0.10, 0.16, 0.22])
  assert summary[100]["runs"] == "b100s1 b100s2"
  # Gap bridged (0.675 - 0.375) * 100; peak non-English mean 0.27 at 1000.
  assert ("Gap bridged (non-English mean / English): +30.0 percentage points (0.375 at budget 0"
          " -> 0.675 at budget 1000)") in markdown
  assert "Peak non-English mean: 0.270 at budget 1000" in markdown


def test_correlations_over_runs_and_over_checkpoints_equal_scipy(built):
  _, _, markdown = built
  # Over the three budgets both means rise: rho = 1.
  assert "Spearman rho of seen vs unseen means over 3 budgets: 1.000, p = 0.000" in markdown
  reference = stats.spearmanr(CHECKPOINT_SEEN, CHECKPOINT_UNSEEN)
  assert (f"Spearman rho of seen vs unseen means over the 4 evaluated checkpoints of b1000:"
          f" {reference.statistic:.3f}, p = {reference.pvalue:.3f}") in markdown
  pearson = stats.pearsonr([0.15, 0.25, 0.33], [0.15, 0.18, 0.21])
  assert f"Pearson r of seen vs unseen means over 3 budgets: {pearson.statistic:.3f}" in markdown


def test_bootstrap_interval_of_a_seen_mean_equals_scipy_on_the_items(built):
  _, written, markdown = built
  lines = _csv(written["xlsum_rouge_l_intervals"])
  line = next(line for line in lines if line["quantity"] == "seen_mean" and line["budget"] == "0")
  es, ja = _xlsum_items(0.20), _xlsum_items(0.10)

  def statistic(first, second, axis=-1):
    return (np.mean(first, axis=axis) + np.mean(second, axis=axis)) / 2

  reference = stats.bootstrap((es, ja), statistic, n_resamples=RESAMPLES, method="percentile",
                              rng=np.random.default_rng(0)).confidence_interval
  assert float(line["estimate"]) == pytest.approx(0.15)
  assert (float(line["low"]), float(line["high"])) == pytest.approx((reference.low,
                                                                     reference.high))
  assert line["method"] == f"percentile bootstrap 95%, {RESAMPLES} resamples, seed 0"
  assert f"{RESAMPLES} resamples, seed 0" in markdown


def test_accuracies_without_items_get_wilson_intervals(built):
  _, written, _ = built
  lines = _csv(written["mgsm_accuracy_intervals"])
  line = next(line for line in lines if line["quantity"] == "es" and line["budget"] == "1000")
  reference = stats.binomtest(7, 10).proportion_ci(method="wilson")
  assert line["method"] == "Wilson 95%"
  assert (float(line["low"]), float(line["high"])) == pytest.approx((reference.low,
                                                                     reference.high))
  bootstrapped = next(line for line in lines if line["quantity"] == "es" and line["budget"] == "0")
  assert bootstrapped["method"].startswith("percentile bootstrap")


def test_noise_floor_from_the_repeated_seeds_marks_small_effects(built):
  _, _, markdown = built
  # Budget 100's two runs: seen means 0.26 and 0.24, gaps 0.08 and 0.06: each sample sd is
  # |0.26 - 0.24| / sqrt(2) = 0.0141. The budget-0 gap (0.000) is smaller than that; the budget-1000 gap is not.
  section = markdown.split("### xlsum: rouge_l")[1].split("### mgsm")[0]
  assert "| seen mean |" in section and section.split("| seen mean |")[1].split("\n")[0].endswith(
      "| 0.014 |")
  assert ("seen - unseen gap at budget 0: +0.000 [" in section
          and "run-to-run spread 0.014 - **smaller than run-to-run noise**" in section)
  budget_1000 = next(line for line in section.splitlines()
                     if line.startswith("- seen - unseen gap at budget 1000"))
  assert "smaller than" not in budget_1000 and "run-to-run spread 0.014" in budget_1000


def test_unfinished_runs_and_tasks_are_listed(built):
  _, _, markdown = built
  assert "- b1000 (budget 1000): no results for task sharegpt" in markdown


def test_files_figures_and_a_self_contained_html(built):
  root, written, _ = built
  out = root / "report"
  for stem in ("scores_by_budget", "relative_to_english"):
    assert (out / f"{stem}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = (out / f"{stem}.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "xlsum" in svg and "mgsm" in svg  # one panel per task
  # mgsm's change against budget 0, e.g. Spanish at 1000: 0.7 - 0.2, annotated in the heatmap.
  heatmap = (out / "mgsm_accuracy_change_heatmap.svg").read_text(encoding="utf-8")
  assert "<!-- 0.50 -->" in heatmap and "<!-- es -->" in heatmap
  assert pathlib.Path(written["mgsm_accuracy_change_heatmap"]).read_bytes()[:4] == b"\x89PNG"
  page = pathlib.Path(written["html"]).read_text(encoding="utf-8")
  assert page.count("<svg") >= 2 and "<table>" in page and "p0_multi_smoke" in page
  assert "<strong>smaller than run-to-run noise</strong>" in page and "**" not in page
  # Nothing is fetched: no src or href to anything, no stylesheet or script (the SVG's
  # xmlns and RDF metadata name namespaces; they are never loaded).
  for external in ("src=", "<link", "<script", "@import", 'href="http', "url(http"):
    assert external not in page
  assert "</html>" in page


def _write_single_task_study(root: pathlib.Path) -> pathlib.Path:
  """Today's evaluator format: one metric, `correct` per item."""
  root.mkdir(parents=True)
  runs = [{"name": f"budget{b}", "budget": b, "run_dir": f"runs/budget{b}"} for b in (0, 200)]
  (root / "study.json").write_text(json.dumps({
      "study": "demo", "dataset": "demo_arith", "metric": "accuracy", "english": "en",
      "seen_languages": ["es"], "unseen_languages": ["ko"], "runs": runs}))
  for run, correct in zip(runs, [{"en": 3, "es": 1, "ko": 0}, {"en": 4, "es": 3, "ko": 1}]):
    eval_dir = root / run["run_dir"] / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "metrics.json").write_text(json.dumps({
        "run": run["name"], "budget": run["budget"], "checkpoint_step": 10,
        "metric": "accuracy", "languages": {language: {"accuracy": k / 4, "count": 4,
                                                       "correct": k}
                                            for language, k in correct.items()}}))
    (eval_dir / "predictions.jsonl").write_text("".join(
        json.dumps({"id": f"d:{i}", "language": language, "correct": i < k}) + "\n"
        for language, k in correct.items() for i in range(4)))
  return root


def test_one_report_across_two_studies_in_both_formats(tmp_path):
  first = _write_study(tmp_path / "multi", skip_runs=["b100s2"])
  second = _write_single_task_study(tmp_path / "single")
  written = report.build_report([str(first), str(second)], str(tmp_path / "joint"),
                                resamples=50)
  overview = _csv(written["overview"])
  assert [(line["study"], line["task"], line["metric"]) for line in overview] == [
      ("p0_multi_smoke", "xlsum", "rouge_l"), ("p0_multi_smoke", "mgsm", "accuracy"),
      ("p0_multi_smoke", "sharegpt", "lpr"), ("demo", "demo_arith", "accuracy")]
  # demo: non-English mean (1/4 + 0/4) / 2 = 0.125 over 0.75 -> (3/4 + 1/4) / 2 = 0.5 over 1.0
  assert float(overview[3]["gap bridged (points)"]) == pytest.approx((0.5 - 0.125 / 0.75) * 100)
  table = _csv(written["demo_demo_arith_accuracy_table"])
  assert [line["200"] for line in table] == ["1.0", "0.75", "0.25", "0.6666666666666666"]
  demo_intervals = _csv(written["demo_demo_arith_accuracy_intervals"])
  assert {line["method"].split(",")[0] for line in demo_intervals} == {"percentile bootstrap 95%"}
  markdown = pathlib.Path(written["report"]).read_text(encoding="utf-8")
  assert "## Study: p0_multi_smoke" in markdown and "## Study: demo" in markdown
  assert "- b100s2 (budget 100): no eval/metrics.json" in markdown
  assert [line["status"] for line in _csv(written["p0_multi_smoke_runs"])] == [
      "ok", "ok", "missing (eval/metrics.json)", "ok"]


def test_several_studies_need_an_out_dir_and_an_unknown_metric_is_named(tmp_path):
  root = _write_study(tmp_path / "multi")
  with pytest.raises(UserInputError, match="need an --out_dir"):
    report.build_report([str(root), str(root)])
  with pytest.raises(UserInputError, match=r"no study here reports metric 'bleu'; they report:"
                                           r" accuracy \(mgsm\), lpr \(sharegpt\)"):
    report.build_report(str(root), metric="bleu")
  written = report.build_report(str(root), str(tmp_path / "only"), metric="accuracy",
                                resamples=20)
  assert "### mgsm: accuracy" in pathlib.Path(written["report"]).read_text(encoding="utf-8")
  assert "xlsum_rouge_l_table" not in written and "table" in written  # one table: no prefix


def test_binary_joint_report_and_one_line_metric_error(tmp_path):
  root = _write_study(tmp_path / "multi")
  def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xlt_jax.report", *arguments], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
  result = run(f"--results_dir={root}", "--metric=bleu")
  assert result.returncode == 2 and result.stdout == ""
  assert result.stderr.startswith("error: no study here reports metric 'bleu'")
  assert len(result.stderr.strip().splitlines()) == 1
  result = run(f"--results_dir={root}", f"--results_dir={_write_single_task_study(tmp_path / 's')}",
               f"--out_dir={tmp_path / 'joint'}", "--resamples=20")
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == str(tmp_path / "joint" / "report.md")
  assert "missing results: b1000 (budget 1000): no results for task sharegpt" in result.stderr


def test_gap_bridged_interval_equals_scipy_on_the_items(built):
  _, _, markdown = built
  # Budget 0 vs budget 1000 (the best relative to English): English and the four others.
  codes = ["en", "es", "ja", "pt", "ko"]
  samples = ([_xlsum_items(XLSUM[code][2]) for code in codes]
             + [_xlsum_items(XLSUM[code][0]) for code in codes])

  def points(*groups, axis=-1):
    relative = [np.mean([np.mean(group, axis=axis) for group in run[1:]], axis=0)
                / np.mean(run[0], axis=axis) for run in (groups[:5], groups[5:])]
    return 100 * (relative[0] - relative[1])

  reference = stats.bootstrap(samples, points, n_resamples=RESAMPLES, method="percentile",
                              rng=np.random.default_rng(0)).confidence_interval
  section = markdown.split("### xlsum: rouge_l")[1].split("### mgsm")[0]
  assert (f"- gap bridged (points of relative to English): +30.000 [{reference.low:+.3f},"
          f" {reference.high:+.3f}]; run-to-run spread 1.768") in section


MIXTURES = {"p1_mono_en": (["en"], {"en": 0.5, "es": 0.2, "ja": 0.1}),
            "p1_en_es": (["en", "es"], {"en": 0.5, "es": 0.4, "ja": 0.15}),
            "p1_en_es_ja": (["en", "es", "ja"], {"en": 0.5, "es": 0.4, "ja": 0.35})}


def test_a_study_of_mixtures_gets_mixture_columns_and_a_train_eval_heatmap(tmp_path):
  runs = [{"name": name, "mixture": name, "training_languages": trained, "run_dir": f"runs/{name}"}
          for name, (trained, _) in MIXTURES.items()]
  (tmp_path / "study.json").write_text(json.dumps({
      "study": "p1_pinch", "english": "en", "seen_languages": ["es"], "unseen_languages": ["ja"],
      "runs": runs}))
  for name, (_, scores) in MIXTURES.items():
    eval_dir = tmp_path / "runs" / name / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "metrics.json").write_text(json.dumps({"run": name, "tasks": {"alpaca": {
        "metric": "win_rate", "languages": {code: {"win_rate": value, "count": 3}
                                            for code, value in scores.items()}}}}))
  written = report.build_report(str(tmp_path), resamples=20)
  markdown = pathlib.Path(written["report"]).read_text(encoding="utf-8")
  assert "| language | p1_en_es | p1_en_es_ja | p1_mono_en |" in markdown  # names sorted
  assert "| ja | 0.15 | 0.35 | 0.10 |" in markdown
  # Non-English means 0.275, 0.375, 0.15: the peak is the three-language mixture.
  assert "Peak non-English mean: 0.375 at mixture p1_en_es_ja" in markdown
  assert "Gap bridged (non-English mean / English): not computed" in markdown
  heatmap = (tmp_path / "report" / "train_eval_heatmap.svg").read_text(encoding="utf-8")
  assert "<!-- en+es+ja -->" in heatmap and "<!-- 0.35 -->" in heatmap
  assert (tmp_path / "report" / "scores_by_budget.svg").exists()
  assert "change_heatmap" not in written
  assert "(largest) - budget 0" not in markdown  # no budgets, no gain from the largest


def test_latin_minus_non_latin_effect_with_its_interval(built):
  _, _, markdown = built
  # xlsum at budget 1000: Latin (es, pt) 0.32, non-Latin (ja, ko) 0.22: +0.100. Budget 100's
  # seeds: Latin 0.28 / 0.26, non-Latin 0.16 both: gaps 0.12 / 0.10, spread 0.0141.
  samples = [_xlsum_items(XLSUM[code][2]) for code in ["es", "pt", "ja", "ko"]]

  def difference(es, pt, ja, ko, axis=-1):
    return ((np.mean(es, axis=axis) + np.mean(pt, axis=axis)) / 2
            - (np.mean(ja, axis=axis) + np.mean(ko, axis=axis)) / 2)

  reference = stats.bootstrap(samples, difference, n_resamples=RESAMPLES, method="percentile",
                              rng=np.random.default_rng(0)).confidence_interval
  section = markdown.split("### xlsum: rouge_l")[1].split("### mgsm")[0]
  assert (f"- Latin - non-Latin mean at budget 1000: +0.100 [{reference.low:+.3f},"
          f" {reference.high:+.3f}]; run-to-run spread 0.014\n") in section


def test_seen_and_unseen_gains_from_the_largest_budget_with_their_intervals(built):
  _, _, markdown = built
  # xlsum, budget 1000 - budget 0: seen (es, ja) 0.33 - 0.15, unseen (pt, ko) 0.21 - 0.15.
  # Budget 100's seeds move only Spanish: seen spread 0.0141, unseen 0.
  section = markdown.split("### xlsum: rouge_l")[1].split("### mgsm")[0]

  def difference(*groups, axis=-1):
    means = [np.mean(group, axis=axis) for group in groups]
    return (means[0] + means[1]) / 2 - (means[2] + means[3]) / 2

  for name, codes, value, spread in (("seen", ["es", "ja"], 0.18, "0.014"),
                                     ("unseen", ["pt", "ko"], 0.06, "0.000")):
    samples = ([_xlsum_items(XLSUM[code][2]) for code in codes]
               + [_xlsum_items(XLSUM[code][0]) for code in codes])
    reference = stats.bootstrap(samples, difference, n_resamples=RESAMPLES, method="percentile",
                                rng=np.random.default_rng(0)).confidence_interval
    assert (f"- {name} mean, budget 1000 (largest) - budget 0: {value:+.3f}"
            f" [{reference.low:+.3f}, {reference.high:+.3f}]; run-to-run spread {spread}\n"
            ) in section


def test_a_budget_sweep_is_set_against_the_base_model_when_a_run_has_its_scores(tmp_path):
  root = _write_study(tmp_path / "study")
  base = {"pt": 0.10, "ko": 0.04, "en": 0.20, "es": 0.14, "ja": 0.05}  # xlsum rouge_l
  base_dir = root / "runs" / "b100s1" / "eval" / "base"  # any run: all start from one base
  base_dir.mkdir(parents=True)
  (base_dir / "metrics.json").write_text(json.dumps({"run": "b100s1", "tasks": {"xlsum": {
      "metric": "rouge_l", "languages": {code: {"rouge_l": value, "count": 4}
                                         for code, value in base.items()}}}}))
  written = report.build_report(str(root), resamples=20)
  markdown = pathlib.Path(written["report"]).read_text(encoding="utf-8")
  section = markdown.split("### xlsum: rouge_l")[1].split("\n### ")[0]
  assert "#### Against the base model" in section
  # Budget 0 against the base: en 0.40 - 0.20; non-English mean (0.20 + 0.10 + 0.20 + 0.10) / 4
  # = 0.15 against (0.14 + 0.05 + 0.10 + 0.04) / 4 = 0.0825. Unseen: base (0.10 + 0.04) / 2 =
  # 0.07, budget 0 (0.20 + 0.10) / 2 = 0.15, budget 1000 (0.28 + 0.14) / 2 = 0.21.
  assert ("English-only fine-tuning (budget 0) changes English by +0.20 and the non-English"
          " mean by +0.07 against the base model.") in section
  assert ("At budget 1000 the unseen languages, which no run trains on, are +0.14 from the"
          " base model (+0.08 at budget 0).") in section
  assert "| es | 0.14 | 0.20 | +0.06 | 0.36 | +0.22 |" in section
  assert "| unseen mean | 0.07 | 0.15 | +0.08 | 0.21 | +0.14 |" in section
  # mgsm has no base scores: no such section; nor has a study without eval/base.
  assert "Against the base model" not in markdown.split("### mgsm: accuracy")[1].split("\n### ")[0]
  other = report.build_report(str(_write_study(tmp_path / "other")), resamples=20)
  assert "Against the base model" not in pathlib.Path(other["report"]).read_text(encoding="utf-8")
