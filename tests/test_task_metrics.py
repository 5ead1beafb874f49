"""Each dataset's metric as the evaluator applies it item by item (task_metrics.py).

Per language, the mean of the items' scores must equal what the scoring CLI's module
computes on the same predictions; those modules are checked against their outside
references (XL-Sum's scorer, SQuAD's script, LCB's compute_metrics.py) in test_rouge.py,
test_qa_metrics.py and test_language_confusion*.py. The LCB completions are real model
outputs (tests/data/language_confusion).
"""

import collections
import csv
import itertools
import sys

import pytest
from conftest import TEST_DATA

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import evaluator, language_confusion, qa_metrics, rouge, task_metrics

LANGUAGES = ("ar", "en", "es", "ja", "ko", "zh")


@pytest.fixture(scope="module")
def lcb_completions():
  """language -> real completions (every model's monolingual and crosslingual rows)."""
  csv.field_size_limit(sys.maxsize)
  found = collections.defaultdict(list)
  for path in sorted((TEST_DATA / "language_confusion" / "outputs").glob("*.csv")):
    with open(path, encoding="utf-8", newline="") as file:
      for row in csv.DictReader(file):
        if row["language"] in LANGUAGES and len(found[row["language"]]) < 12:
          found[row["language"]].append(row["completion"])
  return dict(found)


def _means(metric: str, items: list[task_metrics.Item]) -> dict[str, dict[str, float]]:
  by_language = collections.defaultdict(list)
  for item in items:
    by_language[item.language].append(task_metrics.get(metric).score(item)[1])
  return {language: task_metrics.mean_scores(scores) for language, scores in by_language.items()}


def test_rouge_l_per_language_equals_xlsum_rouge(lcb_completions):
  items = [task_metrics.Item(language, "", prediction, reference)
           for language, texts in lcb_completions.items()
           for prediction, reference in itertools.pairwise(texts)]
  ours = _means("rouge_l", items)
  reference = rouge.score_by_language(
      rouge.Example(item.language, item.prediction, item.answer) for item in items)
  for language, values in reference.items():
    assert ours[language]["rouge_l"] == pytest.approx(values["rougeL"], abs=1e-9)
    assert ours[language]["rouge1"] == pytest.approx(values["rouge1"], abs=1e-9)
  same = task_metrics.get("rouge_l").score(task_metrics.Item("ja", "", "東京は日本の首都です。",
                                                             "東京は日本の首都です。"))[1]
  assert same["rouge_l"] == 1.0  # non-Latin text is segmented, not deleted


def test_line_pass_mean_is_lcbs_line_level_pass_rate(lcb_completions):
  records = [{"language": language, "prediction": text}
             for language, texts in lcb_completions.items() for text in texts]
  reference = language_confusion.score_predictions(records)  # percent, LCB's definitions
  ours = _means("llm_judge", [task_metrics.Item(r["language"], "", r["prediction"], "")
                              for r in records])
  for language in LANGUAGES:
    assert 100 * ours[language]["line_pass"] == pytest.approx(reference["lpr"][language])
    if language in reference["wpr"]:
      assert 100 * ours[language]["word_pass"] == pytest.approx(reference["wpr"][language])
  agreement = language_confusion.language_agreement(records)
  assert 100 * ours["ja"]["language_agreement"] == pytest.approx(agreement["ja"])


def test_squad_exact_match_and_f1_equal_qa_metrics():
  cases = [("es", "el río Amazonas", "El Río Amazonas."), ("en", "in 1998, I think", "1998"),
           ("en", "Paris", "London"), ("zh", "北京", "北京")]
  items = [task_metrics.Item(language, "q", prediction, answer)
           for language, prediction, answer in cases]
  ours = _means("squad_exact_match", items)
  reference = qa_metrics.score_by_language(
      qa_metrics.Example(item.language, item.prediction, (item.answer,)) for item in items)
  for language, values in reference.items():
    assert ours[language]["exact_match"] == values["exact_match"]
    assert ours[language]["f1"] == pytest.approx(values["f1"])


def test_accuracy_counts_answers_without_a_number_as_invalid():
  metric = task_metrics.get("accuracy")
  assert metric.score(task_metrics.Item("en", "", "She has 1,000 apples.", "1000")) == (
      "1000", {"accuracy": 1.0, "invalid": 0.0})
  assert metric.score(task_metrics.Item("en", "", "I do not know.", "7"))[1] == {
      "accuracy": 0.0, "invalid": 1.0}


def test_api_call_exact_match_compares_name_and_every_argument():
  reference = '{"name": "GetWeather", "arguments": {"city": "Madrid", "days": 3}}'
  metric = task_metrics.get("api_call_exact_match")
  assert metric.score(task_metrics.Item("es", "", "GetWeather(city='Madrid', days=3)",
                                        reference))[1]["exact_match"] == 1.0
  assert metric.score(task_metrics.Item("es", "", "GetWeather(city='Madrid', days=4)",
                                        reference))[1]["exact_match"] == 0.0
  assert metric.score(task_metrics.Item("es", "", "no call here", reference))[1] == {
      "exact_match": 0.0, "invalid": 1.0}


def test_unknown_metric_names_the_known_ones():
  with pytest.raises(UserInputError, match="no evaluation for metric 'bleu'.*rouge_l"):
    task_metrics.get("bleu")


def test_each_task_gets_its_own_length_and_stop_sequences():
  config = evaluator.EvaluationConfig(max_new_tokens_by_task={"xlsum": 64})
  assert config.max_new_tokens_for("xlsum", "rouge_l") == 64
  assert config.max_new_tokens_for("mcot_math", "accuracy") == 512
  assert config.stop_sequences_for("mcot_math", "accuracy") == ("\n\n",)
  assert evaluator.EvaluationConfig(max_new_tokens=8).max_new_tokens_for("xlsum", "rouge_l") == 8
  decoding = evaluator.sampling_params(evaluator.EvaluationConfig(temperature=0.7, top_p=0.9),
                                       64, ("\n\n",))
  assert (decoding.temperature, decoding.top_p, decoding.max_new_tokens, decoding.stop) == (
      0.7, 0.9, 64, ("\n\n",))
