"""P2's ΔS in the report, from two ConditionDesign studies whose scores are cells of P2's
own Appendix B (papers.md), Table 12: XQuAD exact match (%), LR 1e-4.

Each cell becomes 1,000 exact-match items (e.g. 30.7% -> 307 correct), written through
the evaluator's results store. By hand, ΔS = S_native - (S_cohere + S_google) / 2:

  Llama2-7B, monolingual:   es 30.7 - (17.2 + 20.8) / 2 = 30.7 - 19.00 = 11.70
                            ru 18.7 - (15.3 + 14.3) / 2 = 18.7 - 14.80 =  3.90
                            zh 41.3 - (29.8 + 28.2) / 2 = 41.3 - 29.00 = 12.30
  Llama2-7B, multilingual:  es 28.0 - (18.4 + 22.9) / 2 = 28.0 - 20.65 =  7.35
                            ru 21.8 - ( 7.6 + 10.3) / 2 = 21.8 -  8.95 = 12.85
                            zh 43.0 - (38.8 + 39.2) / 2 = 43.0 - 39.00 =  4.00
  Qwen1.5-7B, monolingual:  es 43.9 - (27.6 + 23.6) / 2 = 43.9 - 25.60 = 18.30
                            ru 30.4 - (25.5 + 21.0) / 2 = 30.4 - 23.25 =  7.15
                            zh 30.3 - (21.6 + 21.5) / 2 = 30.3 - 21.55 =  8.75
"""

import csv
import pathlib

import numpy as np
import pytest
from evaluated_study import write_evaluation, write_study
from scipy import stats

from xlt_jax import report as report_binary

LANGUAGES = ["es", "ru", "zh"]
# Table 12 rows: (native, cohere, google) per language, monolingual; multilingual for Llama.
TABLE_12 = {
    "llama2_7b": {"native": [30.7, 18.7, 41.3], "cohere": [17.2, 15.3, 29.8],
                  "google": [20.8, 14.3, 28.2]},
    "qwen15_7b": {"native": [43.9, 30.4, 30.3], "cohere": [27.6, 25.5, 21.6],
                  "google": [23.6, 21.0, 21.5]},
}
LLAMA_MULTI = {"native": [28.0, 21.8, 43.0], "cohere": [18.4, 7.6, 38.8],
               "google": [22.9, 10.3, 39.2]}
EXPECTED_MONO = {"llama2_7b": [11.70, 3.90, 12.30], "qwen15_7b": [18.30, 7.15, 8.75]}
EXPECTED_MULTI = [7.35, 12.85, 4.00]
RESAMPLES = 200


def _items(percent: float) -> list[float]:
  correct = round(percent * 10)
  return [1.0] * correct + [0.0] * (1000 - correct)


def _write(root: pathlib.Path, model: str) -> pathlib.Path:
  runs = {}
  for language in LANGUAGES:
    runs[f"native_{language}"] = [language]
    for engine in ("google", "cohere"):
      runs[f"translated_{engine}_{language}"] = [language]
  multi = model == "llama2_7b"
  if multi:
    runs.update({"multi_native": LANGUAGES, "multi_translated_google": LANGUAGES,
                 "multi_translated_cohere": LANGUAGES})
  write_study(root, f"p2_{model}", "ConditionDesign", "en", LANGUAGES, [], runs,
              [("xquad", "squad_exact_match")])
  for column, language in enumerate(LANGUAGES):
    for condition, values in TABLE_12[model].items():
      name = (f"native_{language}" if condition == "native"
              else f"translated_{condition}_{language}")
      # Every run is scored in every language of the test set, as the evaluator does; P2's
      # monolingual cells read only the run's own language (the others here: 5%).
      write_evaluation(root, name, {"xquad": {code: _items(values[column] if code == language
                                                           else 5.0) for code in LANGUAGES}},
                       {"xquad": "squad_exact_match"})
  if multi:
    for condition, values in LLAMA_MULTI.items():
      name = "multi_native" if condition == "native" else f"multi_translated_{condition}"
      write_evaluation(root, name, {"xquad": {language: _items(values[column])
                                              for column, language in enumerate(LANGUAGES)}},
                       {"xquad": "squad_exact_match"})
  return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  base = tmp_path_factory.mktemp("p2")
  out = base / "report"
  code = report_binary.main([f"--results_dir={_write(base / 'llama', 'llama2_7b')}",
                             f"--results_dir={_write(base / 'qwen', 'qwen15_7b')}",
                             f"--out_dir={out}", f"--resamples={RESAMPLES}"])
  assert code == 0
  with open(out / "p2_delta_s.csv", encoding="utf-8") as file:
    lines = list(csv.DictReader(file))
  return out, lines, (out / "report.md").read_text(encoding="utf-8")


def _delta(lines: list[dict], study: str, setting: str) -> list[float]:
  found = {line["language"]: 100 * float(line["delta_s"]) for line in lines
           if line["study"] == study and line["setting"] == setting}
  return [found[language] for language in LANGUAGES]


def test_delta_s_equals_the_hand_derivation_from_table_12(built):
  _, lines, markdown = built
  assert _delta(lines, "p2_llama2_7b", "mono") == pytest.approx(EXPECTED_MONO["llama2_7b"])
  assert _delta(lines, "p2_qwen15_7b", "mono") == pytest.approx(EXPECTED_MONO["qwen15_7b"])
  assert _delta(lines, "p2_llama2_7b", "multi") == pytest.approx(EXPECTED_MULTI)
  # The Qwen study has no multilingual runs: no multi rows, never made-up ones.
  assert not [line for line in lines if line["study"] == "p2_qwen15_7b"
              and line["setting"] == "multi"]
  row = next(line for line in lines if line["study"] == "p2_llama2_7b"
             and line["language"] == "es" and line["setting"] == "mono")
  assert (float(row["native"]), float(row["translated_cohere"]),
          float(row["translated_google"])) == pytest.approx((0.307, 0.172, 0.208))
  assert row["engines_in_delta_s"] == "cohere+google"
  assert "## P2: native against translated training data" in markdown


def test_sections_of_other_designs_are_absent(built):
  out, _, markdown = built
  # P2's runs differ in the data's origin, not in how many languages they train on; no
  # pairwise judgments, no P3 or P4 design: none of those sections.
  assert not list(out.glob("*score_by_language_count*"))
  for heading in ["Side-by-side judgments", "two-sided paired t-tests", "P4"]:
    assert heading not in markdown


def test_delta_s_interval_equals_scipy_bootstrap_on_the_items(built):
  _, lines, _ = built
  row = next(line for line in lines if line["study"] == "p2_llama2_7b"
             and line["language"] == "ru" and line["setting"] == "mono")
  samples = [_items(18.7), _items(15.3), _items(14.3)]  # native, cohere, google

  def statistic(native, cohere, google, axis=-1):
    return (np.mean(native, axis=axis)
            - (np.mean(cohere, axis=axis) + np.mean(google, axis=axis)) / 2)

  reference = stats.bootstrap(samples, statistic, n_resamples=RESAMPLES, method="percentile",
                              rng=np.random.default_rng(0)).confidence_interval
  assert (float(row["delta_s_low"]), float(row["delta_s_high"])) == pytest.approx(
      (reference.low, reference.high))


def test_pearson_of_delta_s_and_native_pools_the_models_languages(built):
  _, _, markdown = built
  # P2 Fig. 4: points are (model, language); here the 6 monolingual rows of both studies.
  delta = EXPECTED_MONO["llama2_7b"] + EXPECTED_MONO["qwen15_7b"]
  native = TABLE_12["llama2_7b"]["native"] + TABLE_12["qwen15_7b"]["native"]
  reference = stats.pearsonr(delta, native)  # r is scale-free: percent or fraction alike
  interval = reference.confidence_interval()
  assert (f"xquad: Pearson r(ΔS, S_native) over 6 (study, language) points ="
          f" {reference.statistic:.3f}, p = {reference.pvalue:.3f}, 95% interval"
          f" [{interval.low:.3f}, {interval.high:.3f}]") in markdown
