"""P4's training set is prompted as its test set: mcot_math_trigger's examples, read through
a real seqio task from files in mCoT-MATH's prepared layout, carry exactly the prompt that
mgsm_cot_trigger gives the same question (mCoT's template and trigger phrase), and the
base's targets, answers and row keys."""

import json

import pytest
import seqio

from tasks import datasets, registration
from tasks.formats import mcot_math
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import mgsm_prompts
from xlt_jax.evaluation.mgsm_format import read_mgsm_tsv

# Latin, Japanese and Bengali script: MGSM's own questions, written as mCoT-MATH rows.
LANGUAGES = ("en", "es", "ja", "bn")


def _write_mcot_math(data_dir, test_data, language, count=3):
  """`count` MGSM questions of `language` as DATA_DIR/mcot_math/train/<lang>.jsonl rows
  (question, chain-of-thought answer, lang, index; `xlt_jax.data.mcot_math` writes them)."""
  questions = [row.question for row in
               read_mgsm_tsv(str(test_data / "mgsm" / f"mgsm_{language}.tsv"))[:count]]
  path = data_dir / "mcot_math" / "train" / f"{language}.jsonl"
  path.parent.mkdir(parents=True, exist_ok=True)
  rows = [{"question": f"  {question}\n", "answer": f"{index} + 2 = {index + 2}.\nThe answer is:"
           f" {index + 2}", "lang": language, "index": 100 + index}
          for index, question in enumerate(questions)]
  path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                  encoding="utf-8")
  return questions


def _task_rows(name):
  task = seqio.get_mixture_or_task(name)
  return list(task.get_dataset(sequence_length=None, split="train", shuffle=False)
              .as_numpy_iterator())


@pytest.mark.parametrize("language", LANGUAGES)
def test_training_inputs_are_the_evaluation_prompt_of_the_same_question(tmp_path, test_data,
                                                                         language):
  questions = _write_mcot_math(tmp_path, test_data, language)
  vocabulary = seqio.ByteVocabulary()
  name = registration.register_task("mcot_math_trigger", str(tmp_path), language, "train",
                                    vocabulary)
  assert name == f"mcot_math_trigger_{language}_train"
  styled = _task_rows(name)
  bare = _task_rows(registration.register_task("mcot_math", str(tmp_path), language, "train",
                                               vocabulary))
  # The test set's prompts of the same questions (MGSM's first rows, in file order).
  evaluation = datasets.read_examples("mgsm_cot_trigger", str(test_data), language, "test")
  assert len(styled) == len(bare) == len(questions) == 3
  trigger = mgsm_prompts.TRIGGER_PHRASES[language]
  for index, (row, bare_row) in enumerate(zip(styled, bare)):
    inputs = row["inputs_pretokenized"].decode()
    assert inputs == evaluation[index]["inputs"]
    assert inputs == f"Question:\n{questions[index].strip()}\nAnswer:\n{trigger}\n"
    assert list(row["inputs"]) == vocabulary.encode(inputs) + [vocabulary.eos_id]
    assert bare_row["inputs_pretokenized"].decode() == questions[index].strip()
    # Targets, answers and row keys are the base's: the chain of thought follows the
    # trigger line directly, as in mCoT's released outputs.
    assert row["targets_pretokenized"] == bare_row["targets_pretokenized"]
    assert list(row["targets"]) == list(bare_row["targets"])
    assert (row["answer"], row["language"]) == (bare_row["answer"], bare_row["language"])
    assert row["answer"].decode() == str(index + 2)
    assert row["id"].decode() == f"mcot_math_trigger_{language}_train:{index + 1}"
    assert bare_row["id"].decode() == f"mcot_math_{language}_train:{index + 1}"


def test_it_reads_mcot_maths_files_in_mcots_languages_with_provenance(tmp_path, test_data):
  _write_mcot_math(tmp_path, test_data, "ja", count=2)
  spec = datasets.get_dataset("mcot_math_trigger")
  assert spec.languages == mcot_math.LANGUAGES  # every mCoT-MATH language has a phrase
  assert spec.splits == ("train", "validation") and spec.metric == "cot_accuracy"
  assert spec.path(str(tmp_path), "ja", "train") == mcot_math.path(str(tmp_path), "ja", "train")
  record = datasets.provenance("mcot_math_trigger", str(tmp_path), "ja", "train")
  base = datasets.provenance("mcot_math", str(tmp_path), "ja", "train")
  assert record["sources"] == base["sources"] and record["rows_kept"] == base["rows_kept"] == 2
  assert record["tags"] == {"prompt_style": "trigger", "styled_from": "mcot_math"}
  with pytest.raises(UserInputError, match="dataset mcot_math_trigger has no language 'pt'"):
    datasets.read_examples("mcot_math_trigger", str(tmp_path), "pt", "train")
