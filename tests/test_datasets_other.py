"""Datasets of the other studies (P1-P4) read from files in their official formats."""

import json

import pyarrow
import pyarrow.parquet
import pytest
import seqio

from tasks import datasets, registration
from xlt_jax.core.errors import DataFormatError

LENIENT = datasets.ReadPolicy(max_malformed_fraction=0.5)


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")


def _jsonl(rows):
  return "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
                 for row in rows)


def _task_rows(name, split):
  return list(seqio.get_mixture_or_task(name).get_dataset(
      sequence_length=None, split=split, shuffle=False).as_numpy_iterator())


def test_aya_dataset_selects_native_rows_by_language_code(tmp_path):
  path = tmp_path / "aya_dataset" / "data" / "train-00000-of-00001.parquet"
  path.parent.mkdir(parents=True)
  pyarrow.parquet.write_table(pyarrow.table({
      "inputs": ["¿Qué es un haiku?", "Что такое хайку?", "What is a haiku?", ""],
      "targets": ["Un poema breve.", "Короткое стихотворение.", "A short poem.", "x"],
      "language": ["Spanish", "Russian", "English", "Spanish"],
      "language_code": ["spa", "rus", "eng", "spa"],
      "annotation_type": ["original-annotations"] * 4,
      "user_id": ["u1", "u2", "u3", "u4"]}), path)
  examples = datasets.read_examples("aya_dataset", str(tmp_path), "ru", "train")
  assert [(e["id"], e["targets"]) for e in examples] == [
      ("aya_dataset_ru_train:1", "Короткое стихотворение.")]
  record = datasets.provenance("aya_dataset", str(tmp_path), "es", "train", LENIENT)
  assert (record["rows_read"], record["rows_kept"], record["malformed"]) == (2, 1, 1)


def test_lima_first_turns_and_parallel_translations(tmp_path):
  english = [{"conversations": ["How do I boil an egg?", "Put it in boiling water.", "More?"],
              "source": "stackexchange"},
             {"conversations": ["Write a haiku.", "Old pond..."], "source": "wikihow"}]
  _write(tmp_path / "lima" / "train.jsonl", _jsonl(english))
  _write(tmp_path / "lima" / "translated" / "de" / "train.jsonl", _jsonl([
      {"conversations": ["Wie koche ich ein Ei?", "In kochendes Wasser legen."], "source": "s"},
      {"conversations": ["Schreibe ein Haiku."], "source": "w"}]))
  assert [(e["id"], e["targets"]) for e in datasets.read_examples(
      "lima", str(tmp_path), "en", "train")] == [("lima_en_train:1", "Put it in boiling water."),
                                                 ("lima_en_train:2", "Old pond...")]
  with pytest.raises(DataFormatError, match=r"de/train.jsonl:2: 'conversations' is not a list"):
    datasets.read_examples("lima", str(tmp_path), "de", "train")


def test_oasst_pairs_root_prompts_with_their_best_ranked_reply(tmp_path):
  path = tmp_path / "oasst1" / "train.parquet"
  path.parent.mkdir(parents=True)
  pyarrow.parquet.write_table(pyarrow.table({
      "message_id": ["p1", "r1", "r2", "c1", "p2", "p3"],
      "parent_id": [None, "p1", "p1", "r1", None, None],
      "text": ["¿Qué es el sol?", "Una estrella cercana.", "Una estrella.", "¿Y la luna?",
               "Sin respuesta", "What is the sun?"],
      "role": ["prompter", "assistant", "assistant", "prompter", "prompter", "prompter"],
      "lang": ["es", "es", "es", "es", "es", "en"],
      "rank": [None, 1.0, 0.0, None, None, None]}), path)
  record = datasets.provenance("oasst", str(tmp_path), "es", "train")
  assert record["filtered"] == {"no_ranked_reply": 1} and record["rows_kept"] == 1
  example = datasets.read_examples("oasst", str(tmp_path), "es", "train")[0]
  assert (example["id"], example["inputs"], example["targets"]) == (
      "oasst_es_train:p1", "¿Qué es el sol?", "Una estrella.")


def test_alpaca_farm_drops_oasst_origin_and_alpaca_eval_translations_align(tmp_path):
  farm = [{"instruction": "Name a color.", "input": "", "output": "Blue.", "dataset": "selfinstruct"},
          {"instruction": "Hi", "input": "", "output": "Hello", "dataset": "oasst"},
          {"instruction": "Sum these.", "input": "2, 3", "output": "5", "dataset": "koala"}]
  _write(tmp_path / "alpaca_farm" / "alpaca_farm_evaluation.json", json.dumps(farm))
  record = datasets.provenance("alpaca_farm", str(tmp_path), "en", "test")
  assert record["filtered"] == {"origin_oasst": 1} and record["rows_kept"] == 2
  examples = datasets.read_examples("alpaca_farm", str(tmp_path), "en", "test")
  assert examples[1]["inputs"] == "Sum these.\n\n2, 3" and examples[1]["id"].endswith(":3")
  _write(tmp_path / "alpaca_eval" / "alpaca_eval_instructions_es.json",
         json.dumps([{"instruction": "Nombra un color."}, {"instruction": "Hola"}]))
  assert [e["id"] for e in datasets.read_examples("alpaca_eval", str(tmp_path), "es", "test")] == [
      "alpaca_eval_es_test:1", "alpaca_eval_es_test:2"]


def test_guanaco_language_filter_counts_what_it_drops(tmp_path):
  lines = [
      {"text": "### Human: ¿Cuál es la mejor manera de aprender a programar en Python?"
               "### Assistant: Practicar todos los días.### Human: ¿Y después?"
               "### Assistant: Construir proyectos."},
      {"text": "### Human: What is the best way to learn to program in Python?"
               "### Assistant: Practice every day."},
      {"text": "### Human: ok### Assistant: vale", "lang": "es"},  # labelled, LID disagrees
  ]
  path = tmp_path / "guanaco" / "openassistant_best_replies_train.jsonl"
  _write(path, _jsonl(lines))
  name = registration.register_task("guanaco", str(tmp_path), "es", "train",
                                    seqio.ByteVocabulary())
  rows = _task_rows(name, "train")
  assert [row["id"].decode() for row in rows] == ["guanaco_es_train:1"]
  assert len(json.loads(rows[0]["conversation"].decode())) == 4
  _write(path, _jsonl(lines + [{"text": "### Assistant: no human turn"}]))
  strict = datasets.ReadPolicy(max_malformed_fraction=0.5, min_language_confidence=0.8)
  record = datasets.provenance("guanaco", str(tmp_path), "es", "train", strict)
  assert record["filtered"] == {"low_language_confidence": 1}
  assert record["rows_read"] == record["rows_kept"] + record["malformed"] + 1
  loose = datasets.ReadPolicy(max_malformed_fraction=0.5, min_language_confidence=0.0)
  assert len(datasets.read_examples("guanaco", str(tmp_path), "en", "train", loose)) == 1


def test_xquad_squad_format_with_parallel_question_ids(tmp_path):
  squad = {"version": "1.1", "data": [{"title": "Sol", "paragraphs": [{
      "context": "El Sol es una estrella.",
      "qas": [{"id": "56beb4343aeaaa14008c925c", "question": "¿Qué es el Sol?",
               "answers": [{"text": "una estrella", "answer_start": 10}]}]}]}]}
  _write(tmp_path / "xquad" / "xquad.es.json", json.dumps(squad))
  example = datasets.read_examples("xquad", str(tmp_path), "es", "test")[0]
  assert example["id"] == "xquad_es_test:56beb4343aeaaa14008c925c"
  assert example["inputs"] == "El Sol es una estrella.\n\n¿Qué es el Sol?"
  assert example["answer"] == "una estrella"


def test_xnli_tsv_rows_of_one_language_carry_their_choices(tmp_path):
  header = "language\tgold_label\tsentence1_binary_parse\tsentence1\tsentence2\tpromptID\tpairID\n"
  body = ("fr\tentailment\t(x)\tIl pleut.\tLe sol est mouillé.\t1\t7\n"
          "en\tneutral\t(x)\tIt rains.\tThe ground is wet.\t1\t7\n"
          "fr\tmaybe\t(x)\tA\tB\t2\t8\n")
  _write(tmp_path / "xnli" / "xnli.test.tsv", header + body)
  with pytest.raises(DataFormatError, match=r"xnli.test.tsv:4: gold_label 'maybe'"):
    datasets.read_examples("xnli", str(tmp_path), "fr", "test")
  name = registration.register_task("xnli", str(tmp_path), "en", "test", seqio.ByteVocabulary())
  row = _task_rows(name, "test")[0]
  assert row["id"].decode() == "xnli_en_test:7" and row["answer"].decode() == "neutral"
  assert json.loads(row["choices"].decode()) == ["entailment", "neutral", "contradiction"]


def test_xcsqa_questions_and_unlabelled_test(tmp_path):
  row = {"id": "q1", "lang": "de", "question": {"stem": "Wo liegt Berlin?", "choices": [
      {"label": "A", "text": "Deutschland"}, {"label": "B", "text": "Peru"}]}, "answerKey": "A"}
  _write(tmp_path / "xcsqa" / "de" / "dev.jsonl", _jsonl([row]))
  _write(tmp_path / "xcsqa" / "de" / "test.jsonl",
         _jsonl([{key: value for key, value in row.items() if key != "answerKey"}]))
  example = datasets.read_examples("xcsqa", str(tmp_path), "de", "validation")[0]
  assert example["inputs"] == "Wo liegt Berlin?\nA. Deutschland\nB. Peru"
  assert (example["targets"], json.loads(example["choices"])) == ("A", ["A", "B"])
  assert datasets.read_examples("xcsqa", str(tmp_path), "de", "test")[0]["answer"] == ""


def test_api_calling_examples_and_their_errors(tmp_path):
  apis = [{"name": "GetWeather", "description": "weather", "parameters": {"city": "str"}},
          {"name": "AddAlarm", "description": "alarm", "parameters": {"time": "str"}}]
  good = {"id": "7", "utterance": "¿Qué tiempo hace en París?", "apis": apis,
          "target": {"name": "GetWeather", "arguments": {"city": "París"}}}
  unknown = dict(good, id="8", target={"name": "Nope", "arguments": {}})
  _write(tmp_path / "api_calling" / "test" / "es.jsonl", _jsonl([good, unknown, good]))
  with pytest.raises(DataFormatError) as error:
    datasets.read_examples("api_calling", str(tmp_path), "es", "test")
  assert "es.jsonl:2: target API 'Nope'" in str(error.value)
  assert "es.jsonl:3: id '7' already used at line 1" in str(error.value)
  lenient = datasets.ReadPolicy(max_malformed_fraction=0.7)
  example = datasets.read_examples("api_calling", str(tmp_path), "es", "test", lenient)[0]
  assert example["targets"] == 'GetWeather(city="París")'
  assert json.loads(example["answer"]) == {"name": "GetWeather", "arguments": {"city": "París"}}
