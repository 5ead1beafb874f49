"""Study reports: paper-table arithmetic checked against P0, and the report files and binary."""

import csv
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import report, tables

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SEEN = ["es", "fr", "ja", "zh"]
UNSEEN = ["ar", "ko", "pt"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _paper_tables(test_data) -> list[dict]:
  directory = test_data / "paper_tables" / "post_trainers_guide"
  entries = json.loads((directory / "index.json").read_text(encoding="utf-8"))
  return [dict(entry, path=str(directory / entry["file"])) for entry in entries]


def _paper_table(test_data, task: str, model: str) -> tuple[list[int], tables.Rows]:
  """The single-task table of `model` on `task` trained on all four seen languages."""
  [entry] = [entry for entry in _paper_tables(test_data)
             if entry["task"] == task and entry["model"] == model
             and entry["setting"] == "single_task" and entry["training_languages"] == ["en", *SEEN]]
  return tables.read_paper_table(entry["path"])


# --- Pure computations against the paper's appendix tables (P0 Tables 3-23) ---------------


def test_average_row_reproduces_the_printed_avg_row_of_every_paper_table(test_data):
  entries = _paper_tables(test_data)
  assert len(entries) == 21
  for entry in entries:
    budgets, rows = tables.read_paper_table(entry["path"])
    assert sorted(rows) == sorted(["en", *SEEN, *UNSEEN, tables.AVERAGE_ROW]), entry["file"]
    assert budgets[0] == 0 and budgets == sorted(budgets), entry["file"]
    for column, (computed, printed) in enumerate(zip(tables.average_row(rows), rows["Avg."])):
      assert abs(computed - printed) <= 0.011, (entry["file"], budgets[column], computed, printed)


@pytest.mark.parametrize("task, model, baseline, best, best_budget, points", [
    ("instruction_following", "aya-7b", 0.850, 0.918, 400, 6.8),  # paper: 6.8
    ("summarization", "aya-7b", 0.810, 0.897, 400, 8.7),  # paper: 8.7
    ("instruction_following", "llama-3.1-8b", 0.568, 0.690, 5000, 12.2),  # paper: 12.3
    ("summarization", "llama-3.1-8b", 0.671, 0.813, 5000, 14.2),  # paper: 14.7
    ("math_reasoning", "llama-3.1-8b", 0.224, 0.630, 800, 40.6),  # paper: "over 40%"
    ("math_reasoning", "aya-7b", 0.434, 0.686, 5000, 25.2),  # paper: 22.7 (rounding, P0.2)
])
def test_relative_to_english_and_gap_bridged_match_papers_md(
    test_data, task, model, baseline, best, best_budget, points):
  budgets, rows = _paper_table(test_data, task, model)
  gap = tables.gap_bridged(budgets, tables.relative_to_english(rows, "en"))
  assert gap.baseline == pytest.approx(baseline, abs=5e-4)
  assert gap.best == pytest.approx(best, abs=5e-4)
  assert gap.best_budget == best_budget
  assert gap.points == pytest.approx(points, abs=0.05)


@pytest.mark.parametrize("task, points", [
    ("instruction_following", 6.8), ("summarization", 8.5), ("math_reasoning", 23.4)])
def test_balanced_relative_to_english_matches_the_alternative_reading(test_data, task, points):
  budgets, rows = _paper_table(test_data, task, "aya-7b")
  relative = tables.balanced_relative_to_english(rows, SEEN, UNSEEN, "en")
  assert tables.gap_bridged(budgets, relative).points == pytest.approx(points, abs=0.05)


def test_seen_unseen_means_match_a_hand_computation(test_data):
  budgets, rows = _paper_table(test_data, "instruction_following", "aya-7b")  # Table 4
  seen, unseen = tables.seen_unseen_means(rows, SEEN, UNSEEN)
  column = budgets.index(400)
  assert seen[column] == pytest.approx((4.03 + 4.11 + 3.85 + 3.62) / 4)
  assert unseen[column] == pytest.approx((3.63 + 3.73 + 3.90) / 3)


def test_language_by_budget_table_sorts_and_marks_missing_scores_nan():
  budgets, rows = tables.language_by_budget_table(
      {200: {"en": 0.5, "es": 0.3}, 0: {"en": 0.4, "es": 0.1, "ar": 0.2}}, ["en", "es", "ar"])
  assert budgets == [0, 200]
  assert list(rows) == ["ar", "en", "es", "Avg."]
  assert rows["ar"][0] == 0.2 and math.isnan(rows["ar"][1])
  assert rows["Avg."][0] == pytest.approx(0.7 / 3) and math.isnan(rows["Avg."][1])


def test_relative_and_gap_bridged_edge_cases():
  rows = {"en": [0.0, 0.5], "es": [0.1, 0.4]}
  relative = tables.relative_to_english(rows, "en")
  assert math.isnan(relative[0]) and relative[1] == pytest.approx(0.8)
  assert tables.gap_bridged([0, 50], relative) is None  # the English-only run's ratio is NaN
  assert tables.gap_bridged([50, 200], [0.5, 0.6]) is None  # no English-only run
  assert tables.gap_bridged([0, 50, 200], [0.5, 0.7, 0.7]) == (0.5, 0.7, 50, pytest.approx(20))


def test_read_paper_table_names_file_and_line_of_a_bad_score(tmp_path):
  path = tmp_path / "bad.tsv"
  path.write_text("language\t0\t100\nen\t0.5\tzero\n", encoding="utf-8")
  with pytest.raises(UserInputError, match=r"bad\.tsv:2: a score is not a number"):
    tables.read_paper_table(str(path))


# --- build_report on a results directory in the study runner's layout ---------------------

BUDGETS = [0, 50, 200]
LANGUAGES = ["en", *SEEN, *UNSEEN]


def _correct(budget_index: int, language_index: int) -> int:
  """Correct answers out of 50: English fixed at 30, the others rising with the budget."""
  return 30 if language_index == 0 else 10 + 8 * budget_index + language_index


def _write_results(directory: pathlib.Path, skip_budgets=()) -> pathlib.Path:
  runs = [{"name": f"budget{budget:04d}", "budget": budget, "run_dir": f"runs/budget{budget:04d}"}
          for budget in BUDGETS]
  (directory / "study.json").write_text(json.dumps({
      "study": "demo", "dataset": "demo_arith", "metric": "accuracy", "english": "en",
      "seen_languages": SEEN, "unseen_languages": UNSEEN, "budgets": BUDGETS, "runs": runs}))
  for budget_index, run in enumerate(runs):
    if run["budget"] in skip_budgets:
      continue
    languages = {language: {"accuracy": _correct(budget_index, index) / 50, "count": 50,
                            "correct": _correct(budget_index, index)}
                 for index, language in enumerate(LANGUAGES)}
    eval_dir = directory / run["run_dir"] / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "metrics.json").write_text(json.dumps({
        "run": run["name"], "budget": run["budget"], "checkpoint_step": 120,
        "metric": "accuracy", "languages": languages}))
  return directory


def test_build_report_writes_the_table_summary_and_plots(tmp_path):
  paths = report.build_report(str(_write_results(tmp_path)))
  assert paths["report"] == os.path.join(str(tmp_path), "report", "report.md")
  markdown = pathlib.Path(paths["report"]).read_text(encoding="utf-8")
  assert "| language | 0 | 50 | 200 |" in markdown
  assert "| en | 0.60 | 0.60 | 0.60 |" in markdown
  assert "| zh | 0.28 | 0.44 | 0.60 |" in markdown  # 14, 22 and 30 of 50
  assert "| Avg. | 0.32 | 0.46 | 0.60 |" in markdown  # (30 + 11 + ... + 17) / 8 = 16 of 50
  assert "demo_arith" in markdown and "Missing" not in markdown
  # The non-English mean is 14, 22, 30 of 50 against English's 30 of 50.
  assert ("Gap bridged (non-English mean / English): +53.3 percentage points (0.467 at budget 0"
          " -> 1.000 at budget 200)") in markdown

  budgets, rows = tables.read_paper_table(paths["table"])
  assert budgets == BUDGETS and list(rows) == [*sorted(LANGUAGES), "Avg."]
  for budget_index in range(len(BUDGETS)):
    for language_index, language in enumerate(LANGUAGES):
      assert rows[language][budget_index] == _correct(budget_index, language_index) / 50

  with open(paths["summary"], encoding="utf-8") as file:
    summary = list(csv.DictReader(file))
  assert [line["runs"] for line in summary] == ["budget0000", "budget0050", "budget0200"]
  assert float(summary[0]["seen_mean"]) == pytest.approx((11 + 12 + 13 + 14) / 4 / 50)
  assert float(summary[0]["unseen_mean"]) == pytest.approx((15 + 16 + 17) / 3 / 50)
  assert float(summary[2]["relative_to_english"]) == pytest.approx(1.0)
  for key in ("scores_plot", "relative_plot"):
    assert pathlib.Path(paths[key]).read_bytes().startswith(PNG_MAGIC)


def test_missing_run_is_named_and_the_rest_still_reported(tmp_path):
  out_dir = tmp_path / "elsewhere"
  paths = report.build_report(str(_write_results(tmp_path, skip_budgets=[50])), str(out_dir))
  markdown = (out_dir / "report.md").read_text(encoding="utf-8")
  assert "**Missing results (1): every table and figure leaves these out**" in markdown
  assert "- budget0050 (budget 50): no eval/metrics.json" in markdown
  assert "| language | 0 | 200 |" in markdown
  assert tables.read_paper_table(paths["table"])[0] == [0, 200]


def test_no_results_at_all_names_the_directory(tmp_path):
  _write_results(tmp_path, skip_budgets=BUDGETS)
  with pytest.raises(UserInputError, match=f"no run in {tmp_path} has results"):
    report.build_report(str(tmp_path))


def test_missing_or_invalid_study_json_names_the_file(tmp_path):
  with pytest.raises(UserInputError, match=r"study\.json does not exist"):
    report.build_report(str(tmp_path))
  (tmp_path / "study.json").write_text("{not json")
  with pytest.raises(UserInputError, match=r"study\.json is not valid JSON"):
    report.build_report(str(tmp_path))


def test_metrics_without_a_study_language_is_listed_as_missing_and_left_blank(tmp_path):
  _write_results(tmp_path)
  path = tmp_path / "runs" / "budget0050" / "eval" / "metrics.json"
  metrics = json.loads(path.read_text())
  del metrics["languages"]["ko"]
  path.write_text(json.dumps(metrics))
  markdown = pathlib.Path(report.build_report(str(tmp_path))["report"]).read_text()
  assert "- budget0050: task demo_arith has no ko results" in markdown
  assert "| ko | 0.32 | n/a | 0.64 |" in markdown


def test_a_non_numeric_score_names_file_task_and_language(tmp_path):
  _write_results(tmp_path)
  path = tmp_path / "runs" / "budget0050" / "eval" / "metrics.json"
  metrics = json.loads(path.read_text())
  metrics["languages"]["ko"]["accuracy"] = "high"
  path.write_text(json.dumps(metrics))
  with pytest.raises(UserInputError, match=r"budget0050.*metrics\.json: no numeric 'accuracy'"
                                           r" for language 'ko'"):
    report.build_report(str(tmp_path))


def _run_binary(*arguments: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "xlt_jax.report", *arguments], cwd=REPO_ROOT,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True,
                        text=True, timeout=120, check=False)


def test_binary_prints_the_report_path_and_warns_about_missing_runs(tmp_path):
  _write_results(tmp_path, skip_budgets=[200])
  result = _run_binary(f"--results_dir={tmp_path}")
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == os.path.join(str(tmp_path), "report", "report.md")
  assert result.stderr == ("warning: demo: missing results: budget0200 (budget 200):"
                           " no eval/metrics.json\n")


def test_binary_exits_2_with_a_one_line_error_for_a_bad_directory(tmp_path):
  result = _run_binary(f"--results_dir={tmp_path / 'nowhere'}")
  assert result.returncode == 2
  assert result.stderr.startswith("error: ") and "study.json" in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
