"""P3's t-tests and the score against the number of training languages, in the report of
a PolyglotDesign study written in the evaluator's layout.

Runs: mono (en), multi2 (en + es) and multi3 (en + es + ru), each native and translated;
XNLI scored in en, es, ru and de (accuracy by log-likelihood), 40 items per language,
drawn with a fixed seed per (run, language). The t-tests are checked against
`scipy.stats.ttest_rel` on the same non-English items (es, ru, de, paired by id); the
curve against the means of the item scores, by hand.
"""

import csv

import numpy as np
import pytest
from evaluated_study import write_evaluation, write_study
from scipy import stats

from xlt_jax import report as report_binary

RUNS = {"mono": ["en"], "multi2_native": ["en", "es"], "multi3_native": ["en", "es", "ru"],
        "multi2_translated": ["en", "es"], "multi3_translated": ["en", "es", "ru"]}
LANGUAGES = ["en", "es", "ru", "de"]
# Each run's chance of a correct item per language: non-English rises with languages.
ACCURACY = {"mono": [0.8, 0.3, 0.3, 0.3], "multi2_native": [0.8, 0.6, 0.4, 0.4],
            "multi3_native": [0.8, 0.65, 0.6, 0.45], "multi2_translated": [0.8, 0.55, 0.4, 0.4],
            "multi3_translated": [0.8, 0.6, 0.6, 0.45]}
ITEMS = 40


def _items(run: str, language: str) -> list[float]:
  rng = np.random.default_rng(list(RUNS).index(run) * 10 + LANGUAGES.index(language))
  return [float(value) for value in
          rng.random(ITEMS) < ACCURACY[run][LANGUAGES.index(language)]]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = write_study(tmp_path_factory.mktemp("p3"), "p3_smoke", "PolyglotDesign", "en",
                     ["es", "ru"], ["de"], RUNS, [("xnli", "multiple_choice_accuracy")])
  for run in RUNS:
    write_evaluation(root, run, {"xnli": {code: _items(run, code) for code in LANGUAGES}},
                     {"xnli": "multiple_choice_accuracy"})
  assert report_binary.main([f"--results_dir={root}", "--resamples=50"]) == 0
  out = root / "report"
  return out, (out / "report.md").read_text(encoding="utf-8")


def _non_english(run: str) -> list[float]:
  return [value for code in ["es", "ru", "de"] for value in _items(run, code)]


def test_t_tests_equal_scipy_ttest_rel_on_the_paired_items(built):
  out, markdown = built
  with open(out / "xnli_p3_t_tests.csv", encoding="utf-8") as file:
    lines = list(csv.DictReader(file))
  pairs = [(line["first"], line["second"]) for line in lines]
  assert pairs == [("mono", "multi2_native"), ("multi2_native", "multi3_native"),
                   ("multi2_native", "multi2_translated"),
                   ("multi3_native", "multi3_translated")]
  for line in lines:
    first, second = _non_english(line["first"]), _non_english(line["second"])
    reference = stats.ttest_rel(second, first)
    assert line["paired over"] == "items" and int(line["n"]) == 3 * ITEMS
    assert float(line["t"]) == pytest.approx(reference.statistic)
    assert float(line["p"]) == pytest.approx(reference.pvalue)
    assert float(line["mean difference"]) == pytest.approx(np.mean(second) - np.mean(first))
    assert line["at 0.05"] == ("significant" if reference.pvalue < 0.05 else "not significant")
  assert "#### xnli: two-sided paired t-tests (P3)" in markdown


def test_score_by_number_of_languages_figure(built):
  out, markdown = built
  assert (out / "score_by_language_count.png").stat().st_size > 0
  assert (out / "score_by_language_count.svg").read_text(encoding="utf-8").count("<svg") == 1
  assert "Mean score against the number of training languages" in markdown


def test_language_count_series_by_hand(built):
  from xlt_jax.reporting import polyglot, results

  out, _ = built
  study = results.collect_results(str(out.parent))
  series = polyglot.language_count_series(study, ("xnli", "accuracy"))
  mean = lambda run, codes: np.mean([np.mean(_items(run, code)) for code in codes])
  # n = 1: mono alone; trained languages none besides English, zero-shot es, ru, de.
  assert series["zero-shot"][1] == pytest.approx(mean("mono", ["es", "ru", "de"]))
  assert series["trained"][2] == pytest.approx(mean("multi2_native", ["es"]))
  assert series["zero-shot"][3] == pytest.approx(mean("multi3_native", ["de"]))
  assert series["trained (translated)"][3] == pytest.approx(mean("multi3_translated",
                                                                 ["es", "ru"]))
  assert series["English"][2] == pytest.approx(mean("multi2_native", ["en"]))
  assert 1 not in series["trained"]
