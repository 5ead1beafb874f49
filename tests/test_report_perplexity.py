"""A corpus-level, lower-is-better metric (perplexity) in the report: its table is written,
but the statistics that read the highest value as the best (peak, gap bridged) or a
language's value as the mean of its items (item bootstrap) are left out and the report
says why; an accuracy task of the same study keeps them."""

import csv

from evaluated_study import write_evaluation, write_study

from xlt_jax import report as report_binary

RUNS = {"native_es": ["es"], "translated_google_es": ["es"]}


def test_perplexity_has_no_peak_gap_or_item_intervals(tmp_path):
  root = write_study(tmp_path / "p2", "p2_smoke", "ConditionDesign", "en", ["es"], ["zh"], RUNS,
                     [("aya_dataset", "perplexity"), ("mgsm", "accuracy")])
  for index, run in enumerate(RUNS):
    write_evaluation(root, run, {
        "aya_dataset": {code: [20.0 + index, 30.0, 40.0 - index] for code in ("en", "es", "zh")},
        "mgsm": {code: [1.0, 0.0, float(index)] for code in ("en", "es", "zh")}},
        {"aya_dataset": "perplexity", "mgsm": "accuracy"})
  assert report_binary.main([f"--results_dir={root}", "--resamples=20"]) == 0
  markdown = (root / "report" / "report.md").read_text(encoding="utf-8")
  perplexity = markdown[markdown.index("aya_dataset"):markdown.index("mgsm")]
  assert "perplexity: lower is better" in perplexity
  assert "Peak non-English mean" not in perplexity and "Gap bridged" not in perplexity
  assert "Peak non-English mean" in markdown[markdown.index("mgsm"):]
  def rows(name):
    with open(root / "report" / f"{name}_intervals.csv", encoding="utf-8") as file:
      return list(csv.DictReader(file))
  assert rows("aya_dataset_perplexity") == []
  assert any(row["quantity"] == "seen_mean" for row in rows("mgsm_accuracy"))
