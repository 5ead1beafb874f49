"""MGSM's chain-of-thought prompting styles against their references: P2's 5-shot prompts
equal the ones lm-evaluation-harness renders for its own `mgsm_native_cot_<lang>` task
(built from the installed yaml, on the official MGSM files in tests/data), the answer
extraction and match equal lm-eval's `flexible-extract` filter and `exact_match` metric,
and P4's trigger prompts follow mCoT's template."""

import json
import os

import pytest

from tasks import datasets
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers, evaluator, mgsm_prompts, task_metrics
from xlt_jax.evaluation.mgsm_format import read_exemplars, read_mgsm_tsv

lm_eval = pytest.importorskip("lm_eval")


def _lm_eval_native_cot_task(tmp_path, test_data, language: str):
  """lm-eval's mgsm_native_cot_<language> from its yaml, reading juletxara/mgsm's layout
  (train: the exemplars with their labels; test: question, answer None) written from the
  official files, as the dataset's loading script builds it."""
  from lm_eval.api.task import ConfigurableTask
  from lm_eval.tasks._yaml_loader import load_yaml

  exemplars = json.loads((test_data / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
  train, test = tmp_path / f"train_{language}.jsonl", tmp_path / f"test_{language}.jsonl"
  with train.open("w", encoding="utf-8") as file:
    for index in range(8):
      shot = exemplars["MGSM_EXEMPLARS"][language][str(index + 1)]
      file.write(json.dumps({"question": shot["q"], "answer": shot["a"],
                             "answer_number": exemplars["EXEMPLAR_NUMBER_ANSWERS"][index],
                             "equation_solution": None}, ensure_ascii=False) + "\n")
  rows = read_mgsm_tsv(str(test_data / "mgsm" / f"mgsm_{language}.tsv"))
  with test.open("w", encoding="utf-8") as file:
    for row in rows:
      file.write(json.dumps({"question": row.question, "answer": None,
                             "answer_number": int(row.answer), "equation_solution": None},
                            ensure_ascii=False) + "\n")
  folder = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "mgsm", "native_cot")
  config = load_yaml(os.path.join(folder, f"mgsm_native_cot_{language}.yaml"))
  config.update(dataset_path="json", dataset_name=None, num_fewshot=5, dataset_kwargs={
      "data_files": {"train": str(train), "test": str(test)},
      "cache_dir": str(tmp_path / "hf_cache")})
  task = ConfigurableTask(config=config)
  task.set_fewshot_seed(1234)  # simple_evaluate's default fewshot_random_seed
  return task


def test_labels_are_lm_evals():
  from lm_eval.tasks.mgsm.utils import LANGUAGES

  assert mgsm_prompts.LM_EVAL_LABELS == {
      language: (labels["QUESTION"], labels["ANSWER"]) for language, labels in LANGUAGES.items()}


@pytest.mark.parametrize("language", ["es", "ru", "zh"])  # P2's languages
def test_p2_prompts_equal_lm_evals_native_cot_five_shot(tmp_path, test_data, language,
                                                        monkeypatch):
  monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
  task = _lm_eval_native_cot_task(tmp_path, test_data, language)
  theirs = [task.fewshot_context(doc, 5) for doc in task.test_docs()]  # in doc order
  ours = datasets.read_examples("mgsm_5shot_cot", str(test_data), language, "test")
  assert len(ours) == len(theirs) == 250
  assert [example["inputs"] for example in ours] == theirs
  assert task.config.generation_kwargs["until"][0] in mgsm_prompts.STOP_SEQUENCES
  # Different items draw different shots (lm-eval's sampler is not reseeded per item).
  assert len({prompt.split("\n\n")[0] for prompt in theirs[:20]}) > 1


def test_five_shot_prompt_text_and_errors(test_data):
  exemplars = read_exemplars(str(test_data / "mgsm" / "exemplars.json"))["es"]
  [prompt] = mgsm_prompts.lm_eval_cot_prompts(exemplars, ["¿Cuánto es 2 + 2?"], "es")
  shots = prompt.split("\n\n")
  assert len(shots) == 6 and shots[-1] == "Pregunta: ¿Cuánto es 2 + 2?\nRespuesta paso a paso:"
  assert all(shot.startswith("Pregunta: ") and "\nRespuesta paso a paso: " in shot
             for shot in shots[:5])
  with pytest.raises(UserInputError, match="no language 'pt'"):
    mgsm_prompts.lm_eval_cot_prompts(exemplars, ["q"], "pt")
  with pytest.raises(UserInputError, match="9 shots need at least that many exemplars"):
    mgsm_prompts.lm_eval_cot_prompts(exemplars, ["q"], "es", shots=9)


COMPLETIONS = [
    "Janet vende 16 - 3 - 4 = 9 huevos. 9 * $2 = $18. La respuesta es 18.",
    "答案是 1,000。", "So she makes $18.00 a day.", "The answer is -3", "x 5 y",
    "no number here", "", "12.5 and then 7", "It costs $1,234.56.", "... ,, 3",
    "Ответ — 42.\n\nЗадача: 7 яблок", "答えは10です。", "3 + 4 = 7", "-- 5 --",
]


def test_final_number_equals_lm_evals_flexible_extract():
  from lm_eval.filters.extraction import RegexFilter
  from lm_eval.filters.selection import TakeFirstFilter

  regex = RegexFilter(regex_pattern=r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
  filtered = TakeFirstFilter().apply(regex.apply([[text] for text in COMPLETIONS], None), None)
  expected = [None if value == "[invalid]" else value for value in filtered]
  assert [answers.final_number(text) for text in COMPLETIONS] == expected
  assert expected[:4] == ["18.", "1,000", "$18.00", "-3"]


def test_exact_token_match_equals_lm_evals_exact_match():
  from lm_eval.api.metrics import exact_match_hf_evaluate

  references = ["18", "1000", "18", "3", "5", "0", "0", "7", "1234", "3", "7", "10", "7", "5"]
  for text, reference in zip(COMPLETIONS, references):
    extracted = answers.final_number(text)
    theirs = exact_match_hf_evaluate([extracted or "[invalid]"], [reference], ignore_case=True,
                                     ignore_punctuation=True)["exact_match"]
    assert answers.exact_token_match(extracted, reference) == bool(theirs), text


def test_cot_accuracy_scores_the_final_number_with_the_invalid_share():
  metric = task_metrics.get("cot_accuracy")
  assert metric.primary == "accuracy"
  item = task_metrics.Item("es", "prompt", "9 * 2 = 18. La respuesta es 18.", "18")
  assert metric.score(item) == ("18.", {"accuracy": 1.0, "invalid": 0.0})
  item = task_metrics.Item("es", "prompt", "La respuesta es 18, no 20.", "18")
  assert metric.score(item) == ("20.", {"accuracy": 0.0, "invalid": 0.0})  # the last number
  assert metric.score(task_metrics.Item("es", "p", "no sé", "18"))[1] == {"accuracy": 0.0,
                                                                            "invalid": 1.0}


def test_p4_trigger_prompts_follow_mcots_template(test_data):
  examples = datasets.read_examples("mgsm_cot_trigger", str(test_data), "ja", "test")
  question = read_mgsm_tsv(str(test_data / "mgsm" / "mgsm_ja.tsv"))[0].question
  assert len(examples) == 250
  assert examples[0]["inputs"] == f"Question:\n{question}\nAnswer:\n段階的に考えてみましょう。\n"
  assert examples[0]["id"] == "mgsm_cot_trigger_ja_test:1"
  assert set(mgsm_prompts.TRIGGER_PHRASES) == set(datasets.MGSM_LANGUAGES)
  with pytest.raises(UserInputError, match="mCoT's trigger phrases has no language 'pt'"):
    mgsm_prompts.trigger_prompt("q", "pt")


def test_cot_styles_decode_hundreds_of_tokens_and_stop_at_the_next_question():
  config = evaluator.EvaluationConfig()
  for task in ("mgsm_5shot_cot", "mcot_math_trigger"):  # P2's task; P4's is its training set
    assert config.max_new_tokens_for(task, "cot_accuracy") == 512
    assert "Pregunta:" in config.stop_sequences_for(task, "cot_accuracy")
    assert "Question:" in config.stop_sequences_for(task, "cot_accuracy")
  config = evaluator.EvaluationConfig(max_new_tokens_by_task={"mgsm_5shot_cot": 256})
  assert config.max_new_tokens_for("mgsm_5shot_cot", "cot_accuracy") == 256
