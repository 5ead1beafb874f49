"""`python -m xlt_jax.report --paper_table`: P0's own tables as report input.

The expected numbers are derived by hand from the TSVs in
tests/data/paper_tables/post_trainers_guide/ (the derivations are in the comments), not
from the code under test. Seen = es, fr, ja, zh and unseen = ar, ko, pt unless a test
says otherwise.
"""

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from xlt_jax import report
from xlt_jax.reporting import paper_tables

TABLES = REPO_ROOT / "tests" / "data" / "paper_tables" / "post_trainers_guide"
KEYS = ["budgets", "relative_to_english", "gap_bridged_points", "peak_non_english_mean",
        "peak_budget", "spearman_seen_unseen", "runs_unseen_above_seen", "seen_mean",
        "unseen_mean", "seen_unseen_gap", "avg_printed", "avg_recomputed", "notes"]


def _json(capsys, *flags: str) -> dict:
  """Runs the binary's main in this process and parses what it prints."""
  assert report.main([*flags, "--json"]) == 0
  return json.loads(capsys.readouterr().out)


def _error(capsys, *flags: str) -> str:
  """Runs the binary's main on bad input: exit status 2 and one `error:` line."""
  assert report.main(list(flags)) == 2
  captured = capsys.readouterr()
  assert captured.out == "" and captured.err.startswith("error: ")
  assert len(captured.err.strip().splitlines()) == 1, captured.err
  return captured.err


def _column(summary: dict, key: str, budget: int) -> float:
  return summary[key][summary["budgets"].index(budget)]


def test_table_04_instruction_following_7b_by_hand(capsys):
  summary = _json(capsys, f"--paper_table={TABLES / 'table_04.tsv'}")
  assert summary["seen"] == ["es", "fr", "ja", "zh"] and summary["unseen"] == ["ar", "ko", "pt"]
  assert summary["grouping"] == "index.json"  # training languages en, es, fr, ja, zh
  assert summary["budgets"] == [0, 100, 200, 400, 800, 1000, 2000, 5000]
  # Budget 0: en 4.19; seen es 3.90 + fr 3.99 + ja 3.48 + zh 3.10 = 14.47 -> 3.6175;
  # unseen ar 3.31 + ko 3.44 + pt 3.71 = 10.46 -> 3.48667; gap 0.13083.
  # Non-English mean (14.47 + 10.46) / 7 = 3.56143; / 4.19 = 0.84998.
  # Balanced (3.6175 + 3.48667) / 2 / 4.19 = 0.84775.
  # Avg. recomputed (24.93 + 4.19) / 8 = 3.64, printed 3.64; / 4.19 = 0.86874.
  assert _column(summary, "seen_mean", 0) == pytest.approx(3.6175)
  assert _column(summary, "unseen_mean", 0) == pytest.approx(10.46 / 3)
  assert _column(summary, "seen_unseen_gap", 0) == pytest.approx(3.6175 - 10.46 / 3)
  assert _column(summary, "relative_to_english", 0) == pytest.approx(24.93 / 7 / 4.19)
  assert _column(summary, "balanced_relative_to_english", 0) == pytest.approx(
      (3.6175 + 10.46 / 3) / 2 / 4.19)
  assert _column(summary, "avg_printed", 0) == 3.64
  assert _column(summary, "avg_recomputed", 0) == pytest.approx(3.64)
  assert _column(summary, "avg_relative_to_english", 0) == pytest.approx(3.64 / 4.19)
  # Budget 400: en 4.18; seen 4.03 + 4.11 + 3.85 + 3.62 = 15.61; unseen 3.63 + 3.73 + 3.90
  # = 11.26; non-English (15.61 + 11.26) / 7 = 26.87 / 7 = 3.83857; / 4.18 = 0.91832.
  # The other columns' non-English sums / 7 / en: 100: 25.34 / 7 / 4.09 = 0.8851,
  # 200: 25.52 / 7 / 4.17 = 0.8743, 800: 26.44 / 7 / 4.19 = 0.9015, 1000: 26.44 / 7 / 4.24
  # = 0.8908, 2000: 26.54 / 7 / 4.19 = 0.9049, 5000: 26.32 / 7 / 4.26 = 0.8826; so 400 is
  # the best run and its non-English mean 3.83857 the peak (the next is 26.54 / 7).
  # Gap bridged = (0.91832 - 0.84998) * 100 = 6.83 points (the paper says 6.8).
  assert _column(summary, "relative_to_english", 400) == pytest.approx(26.87 / 7 / 4.18)
  assert summary["gap_bridged_points"] == pytest.approx(
      (26.87 / 7 / 4.18 - 24.93 / 7 / 4.19) * 100)
  assert summary["gap_bridged_points"] == pytest.approx(6.83, abs=0.005)
  assert summary["gap_bridged"]["relative_to_english"]["best_budget"] == 400
  assert summary["peak_non_english_mean"] == pytest.approx(26.87 / 7)
  assert summary["peak_budget"] == 400
  # Seen / 4 against unseen / 3 per column: 3.6175 > 3.4867, 3.695 > 3.52, 3.7375 > 3.5233,
  # 3.9025 > 3.7533, 3.84 > 3.6933, 3.7925 > 3.7567, 3.88 > 3.6733, 3.8075 > 3.6967.
  assert summary["runs_unseen_above_seen"] == []
  # Statements: Table 2's 0.67 agrees with rho 0.667, its p < 0.05 does not (8 points).
  assert summary["spearman_seen_unseen"]["rho"] == pytest.approx(0.667, abs=5e-4)
  [p_note] = summary["notes"]
  assert p_note.startswith('Table 2: "seen vs unseen rank correlation, 7B (Aya), Instruction'
                           ' Following: p-value < 0.05"') and "p 0.071: DIFFERS" in p_note
  verdicts = {(s["quantity"], s["stated"]): s["agrees"] for s in summary["paper_statements"]}
  assert verdicts == {("spearman_rho", 0.67): True, ("spearman_p", 0.05): False,
                      ("gap_bridged_points", 6.8): True, ("best_relative_budget", 400): True}


def test_table_11_summarization_7b_spearman_over_the_columns_by_hand(capsys):
  summary = _json(capsys, f"--paper_table={TABLES / 'table_11.tsv'}")
  # Seen sums (es + fr + ja + zh) per column 0..5000: 1.05, 1.10, 1.09, 1.13, 1.12, 1.13,
  # 1.13, 1.17 -> means 0.2625, 0.275, 0.2725, 0.2825, 0.28, 0.2825, 0.2825, 0.2925.
  # Unseen sums (ar + ko + pt): 0.65, 0.69, 0.68, 0.69, 0.70, 0.70, 0.69, 0.70.
  seen = [1.05, 1.10, 1.09, 1.13, 1.12, 1.13, 1.13, 1.17]
  unseen = [0.65, 0.69, 0.68, 0.69, 0.70, 0.70, 0.69, 0.70]
  assert summary["seen_mean"] == pytest.approx([total / 4 for total in seen])
  assert summary["unseen_mean"] == pytest.approx([total / 3 for total in unseen])
  # Ranks with ties averaged. Seen: 0.2625 -> 1, 0.2725 -> 2, 0.275 -> 3, 0.28 -> 4, the
  # three 0.2825 -> 6, 0.2925 -> 8: [1, 3, 2, 6, 4, 6, 6, 8]. Unseen: 0.65 -> 1, 0.68 -> 2,
  # the three 0.69 -> 4, the three 0.70 -> 7: [1, 4, 2, 4, 7, 7, 4, 7].
  # Deviations from the mean rank 4.5: seen [-3.5, -1.5, -2.5, 1.5, -0.5, 1.5, 1.5, 3.5],
  # unseen [-3.5, -0.5, -2.5, -0.5, 2.5, 2.5, -0.5, 2.5]. Sum of products 12.25 + 0.75 +
  # 6.25 - 0.75 - 1.25 + 3.75 - 0.75 + 8.75 = 29; sums of squares 40 and 38.
  # rho = 29 / sqrt(40 * 38) = 0.74383. spearmanr's p: t = rho * sqrt(6 / (1 - rho^2)) =
  # 0.74383 * sqrt(6 * 1520 / 679) = 2.7261 on 6 degrees of freedom, two-sided p = 0.0344.
  spearman = summary["spearman_seen_unseen"]
  assert spearman["rho"] == pytest.approx(29 / math.sqrt(40 * 38))
  assert spearman["p"] == pytest.approx(0.0344, abs=5e-5)
  assert spearman["n"] == 8 and "scipy.stats.spearmanr" in spearman["method"]
  # Table 2 says 0.24 with p > 0.05: both differ, and both are notes.
  assert any('Summarization: 0.24" (Spearman rho 0.24); this table: rho 0.744: DIFFERS' in note
             for note in summary["notes"])
  assert any("p-value > 0.05" in note and "p 0.034: DIFFERS" in note for note in summary["notes"])
  # Gap bridged: budget 0: en 0.30, non-English 0.24 + 0.21 + 0.25 + 0.32 + 0.15 + 0.26 +
  # 0.27 = 1.70 -> 1.70 / 7 / 0.30 = 0.80952; budget 400: en 0.29, 0.25 + 0.21 + 0.27 +
  # 0.36 + 0.17 + 0.27 + 0.29 = 1.82 -> 1.82 / 7 / 0.29 = 0.89655; 8.70 points (paper 8.7).
  assert summary["gap_bridged_points"] == pytest.approx((1.82 / 7 / 0.29 - 1.70 / 7 / 0.30) * 100)
  # The peak non-English mean is not at 400 but at 5000: 0.26 + 0.21 + 0.29 + 0.38 + 0.17
  # + 0.27 + 0.29 = 1.87 -> 0.26714 (400 gives 1.82 / 7 = 0.26).
  assert summary["peak_non_english_mean"] == pytest.approx(1.87 / 7)
  assert summary["peak_budget"] == 5000


def test_table_23_math_7b_multi_task_three_readings_by_hand(capsys):
  summary = _json(capsys, f"--paper_table={TABLES / 'table_23.tsv'}")
  # Budget 1500: en 0.46; es 0.26, fr 0.38, ja 0.27, zh 0.34 (seen sum 1.25 -> 0.3125);
  # ar 0.02, ko 0.20, pt 0.28 (unseen sum 0.50 -> 0.16667); non-English 1.75 / 7 = 0.25.
  #   non-English mean / English: 0.25 / 0.46 = 0.54348
  #   (seen + unseen) / 2 / English: (0.3125 + 0.16667) / 2 / 0.46 = 0.52083
  #   Avg. / English: (1.75 + 0.46) / 8 / 0.46 = 0.27625 / 0.46 = 0.60054 (printed Avg. 0.28)
  # Each is its reading's best column; the runners-up are 0.523 (4000, 5000), 0.514
  # (5000) and 0.582 (4000: 2.05 / 8 / 0.44; 5000: 2.19 / 8 / 0.47).
  readings = {"relative_to_english": 0.25 / 0.46,
              "balanced_relative_to_english": (0.3125 + 0.50 / 3) / 2 / 0.46,
              "avg_relative_to_english": 2.21 / 8 / 0.46}
  for key, value in readings.items():
    assert _column(summary, key, 1500) == pytest.approx(value)
    assert summary["gap_bridged"][key]["best"] == pytest.approx(value)
    assert summary["gap_bridged"][key]["best_budget"] == 1500
  # Budget 0: en 0.49, non-English 0.00 + 0.36 + 0.19 + 0.18 + 0.26 + 0.12 + 0.23 = 1.34;
  # gap bridged (0.54348 - 1.34 / 7 / 0.49) * 100 = 15.28 points.
  assert summary["gap_bridged_points"] == pytest.approx((0.25 / 0.46 - 1.34 / 7 / 0.49) * 100)
  # The paper: "only a little over 60% relative performance". Only Avg. / English fits.
  [statement] = summary["paper_statements"]
  assert not statement["agrees"] and statement["agreeing"] == ["Avg. / English"]
  assert any("non-English mean / English 0.543" in note and "Avg. / English 0.601" in note
             and "DIFFERS (only Avg. / English agrees)" in note for note in summary["notes"])
  # Budget 100: 0.00 + 0.44 + 0.42 + 0.37 + 0.20 + 0.27 + 0.07 + 0.26 = 2.03 -> 0.25375,
  # printed 0.26: 0.00625 off, more than half a unit (0.005), less than one (0.01).
  assert _column(summary, "avg_printed", 100) == 0.26
  assert _column(summary, "avg_recomputed", 100) == pytest.approx(2.03 / 8)
  assert any(note.startswith("The printed Avg. differs") and "100: printed 0.26 vs 0.2538"
             in note and "within one unit" in note for note in summary["notes"])


def test_table_17_math_35b_peak_68_percent_and_unseen_above_seen_by_hand(capsys):
  summary = _json(capsys, f"--paper_table={TABLES / 'table_17.tsv'}")
  # Printed Avg. row: 0.62 0.64 0.64 0.66 0.66 0.64 0.65 0.64 -> best 0.66 (400 and 800).
  # Recomputed (8-language sums / 8): 4.97, 5.15, 5.14, 5.26, 5.30, 5.12, 5.22, 5.08 ->
  # best 5.30 / 8 = 0.6625 at 800. Section 5's "single-task ... (68%)" is neither.
  [statement] = [s for s in summary["paper_statements"] if s["quantity"] == "peak_avg"]
  assert statement["values"] == {"printed Avg.": 0.66, "recomputed Avg.": pytest.approx(0.6625)}
  assert not statement["agrees"] and statement["agreeing"] == []
  # Seen / 4 vs unseen / 3: 0: 2.44 vs 1.77, 100: 2.56 vs 1.81, 200: 2.54 vs 1.82, 400:
  # 2.58 vs 1.91, 800: 2.58 vs 1.92, 1000: 2.54 vs 1.79, 2000: 2.62 vs 1.81 (seen ahead);
  # 5000: es collapses to 0.44, seen 2.29 / 4 = 0.5725 < unseen 2.00 / 3 = 0.6667.
  assert summary["runs_unseen_above_seen"] == [5000]
  assert _column(summary, "seen_unseen_gap", 5000) == pytest.approx(2.29 / 4 - 2.00 / 3)


def test_binary_prints_one_json_object_as_a_subprocess():
  result = subprocess.run(
      [sys.executable, "-m", "xlt_jax.report", "--json",
       f"--paper_table={TABLES / 'table_04.tsv'}", "--seen=es,fr,ja,zh", "--unseen=ar,ko,pt"],
      cwd=REPO_ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  summary = json.loads(result.stdout)
  assert set(KEYS) <= set(summary)
  assert summary["grouping"] == "--seen/--unseen" and summary["index_entry"]["table"] == 4
  assert summary["gap_bridged_points"] == pytest.approx(6.83, abs=0.005)
  assert set(summary["spearman_seen_unseen"]) >= {"rho", "p"}


def test_markdown_summary_without_json(capsys):
  assert report.main([f"--paper_table={TABLES / 'table_04.tsv'}"]) == 0
  markdown = capsys.readouterr().out
  assert markdown.startswith("# Table 4: instruction_following, switch_aware_judge_rating_1_5,"
                             " aya-7b, single_task\n")
  assert "| Relative to English: non-English mean / English | 0.850 |" in markdown
  assert ("- Gap bridged (non-English mean / English): +6.8 points (0.850 at budget 0 -> 0.918"
          " at budget 400)") in markdown
  assert "## The paper's statements about this table" in markdown


def _index() -> list[dict]:
  return json.loads((TABLES / "index.json").read_text(encoding="utf-8"))


def _numbers(value) -> list:
  if isinstance(value, dict):
    return [number for item in value.values() for number in _numbers(item)]
  if isinstance(value, list):
    return [number for item in value for number in _numbers(item)]
  return [value] if value is None or isinstance(value, (int, float)) else []


@pytest.mark.parametrize("entry", _index(), ids=lambda entry: entry["file"])
def test_every_p0_table_summarizes_to_finite_values(entry):
  summary = json.loads(paper_tables.to_json(
      paper_tables.summarize_paper_table(str(TABLES / entry["file"]))))
  training = entry["training_languages"]
  assert summary["seen"] == training[1:]
  assert sorted(summary["unseen"] + training) == sorted(["en", "es", "fr", "ja", "zh", "ar",
                                                         "ko", "pt"])
  numbers = _numbers({key: value for key, value in summary.items() if key != "index_entry"})
  assert numbers and all(n is not None and math.isfinite(n) for n in numbers), entry["file"]
  assert len(summary["avg_printed"]) == len(summary["budgets"])


def test_grouping_other_than_the_index_skips_the_paper_statements(capsys):
  summary = _json(capsys, f"--paper_table={TABLES / 'table_04.tsv'}", "--seen=es,fr",
                  "--unseen=ar,ja,ko,pt,zh")
  assert summary["paper_statements"] == [] and summary["seen"] == ["es", "fr"]
  assert summary["notes"][0].startswith("Seen/unseen differ from the table's training languages")


def test_a_table_without_an_index_needs_seen_and_unseen(tmp_path, capsys):
  table = tmp_path / "table.tsv"
  table.write_text((TABLES / "table_04.tsv").read_text(encoding="utf-8"), encoding="utf-8")
  assert "pass --seen and --unseen" in _error(capsys, f"--paper_table={table}")
  assert "pass --seen and --unseen" in _error(capsys, f"--paper_table={table}", "--seen=es")
  summary = _json(capsys, f"--paper_table={table}", "--seen=es,fr,ja,zh", "--unseen=ar,ko,pt")
  assert summary["index_entry"] is None and summary["paper_statements"] == []
  assert summary["gap_bridged_points"] == pytest.approx(6.83, abs=0.005)


def test_unknown_or_misplaced_languages_are_one_line_errors(capsys):
  table = f"--paper_table={TABLES / 'table_04.tsv'}"
  assert "unknown --seen language code 'xx'" in _error(capsys, table, "--seen=es,xx")
  assert "unknown --unseen language code 'q'" in _error(capsys, table, "--unseen=q")
  # ja, zh, ko and pt are rows of Table 4 that these groups leave out.
  assert "cannot place row(s) ['ja', 'ko', 'pt', 'zh']" in _error(
      capsys, table, "--seen=es,fr", "--unseen=ar")
  assert "seen language 'de' is English or has no row" in _error(
      capsys, table, "--seen=es,fr,ja,zh,de", "--unseen=ar,ko,pt")
  assert "['ar'] both seen and unseen" in _error(
      capsys, table, "--seen=es,fr,ja,zh,ar", "--unseen=ar,ko,pt")
  assert "--seen names no language" in _error(capsys, table, "--seen=", "--unseen=ar,ko,pt")


@pytest.mark.parametrize("header, row, message", [
    ("language\t0\t100", "xx\t0.1\t0.2", "unknown row language code 'xx'"),
    ("language\t0\tmany", "es\t0.1\t0.2", "budgets must be integers"),
    ("language\t0\t0", "es\t0.1\t0.2", "cannot place budget column 0: it is repeated"),
    ("language\t0\t-100", "es\t0.1\t0.2", "cannot place budget column -100: it is negative"),
])
def test_a_row_or_column_it_cannot_place_is_a_one_line_error(tmp_path, capsys, header, row,
                                                              message):
  table = tmp_path / "table.tsv"
  table.write_text(f"{header}\nen\t0.5\t0.6\n{row}\nar\t0.1\t0.1\nAvg.\t0.2\t0.3\n",
                   encoding="utf-8")
  assert message in _error(capsys, f"--paper_table={table}", "--seen=es", "--unseen=ar")


def test_flags_of_the_other_mode_are_refused(capsys):
  for flags in (["--results_dir=x", f"--paper_table={TABLES / 'table_04.tsv'}"], [],
                ["--results_dir=x", "--json"], [f"--paper_table={TABLES / 'table_04.tsv'}",
                                                "--out_dir=y"]):
    with pytest.raises(SystemExit) as exit_info:
      report.main(flags)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
