"""The primary study's datasets read from files in their official formats, through seqio."""

import csv
import json

import pyarrow
import pyarrow.parquet
import pytest
import seqio

from tasks import datasets, registration
from tasks.formats import aya_evaluation, xlsum
from xlt_jax.core.errors import DataFormatError, UserInputError

STRICT = datasets.ReadPolicy(max_malformed_fraction=0.0)
LENIENT = datasets.ReadPolicy(max_malformed_fraction=0.5)


def _write_jsonl(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _xlsum_row(number, language="es"):
  return {"id": f"noticias-{number}", "url": f"https://www.bbc.com/mundo/noticias-{number}",
          "title": f"Título {number}", "summary": f"Resumen número {number} ñ.",
          "text": f"Texto del artículo {number}, con acentos: canción, año."}


def _task_rows(name, split):
  task = seqio.get_mixture_or_task(name)
  return list(task.get_dataset(sequence_length=None, split=split, shuffle=False)
              .as_numpy_iterator())


def test_xlsum_reads_official_jsonl_through_a_seqio_task(tmp_path):
  source = tmp_path / "xlsum" / "spanish_val.jsonl"
  _write_jsonl(source, [_xlsum_row(1), "", _xlsum_row(2)])  # a blank line is not a row
  name = registration.register_task("xlsum", str(tmp_path), "es", "validation",
                                    seqio.ByteVocabulary())
  assert name == "xlsum_es_validation"
  rows = _task_rows(name, "validation")
  assert [row["id"].decode() for row in rows] == ["xlsum_es_validation:1",
                                                   "xlsum_es_validation:3"]
  assert rows[1]["inputs_pretokenized"].decode() == _xlsum_row(2)["text"]
  assert rows[1]["targets_pretokenized"].decode() == "Resumen número 2 ñ."
  assert datasets.get_dataset("xlsum").metric == "rouge_l"


def test_malformed_rows_fail_above_the_threshold_naming_file_and_line(tmp_path):
  source = tmp_path / "xlsum" / "spanish_train.jsonl"
  broken = dict(_xlsum_row(3), summary=None)
  _write_jsonl(source, [_xlsum_row(1), "{not json", _xlsum_row(2), broken])
  with pytest.raises(DataFormatError) as error:
    datasets.read_examples("xlsum", str(tmp_path), "es", "train")  # default: 0.1%
  assert "2 of 4 rows are malformed" in str(error.value)
  assert f"{source}:2: not valid JSON" in str(error.value)
  assert f"{source}:4: field 'summary'" in str(error.value)
  # Tolerated under a lenient policy, but counted, never silently dropped.
  examples = datasets.read_examples("xlsum", str(tmp_path), "es", "train", LENIENT)
  assert [e["id"] for e in examples] == ["xlsum_es_train:1", "xlsum_es_train:3"]
  record = datasets.provenance("xlsum", str(tmp_path), "es", "train", LENIENT)
  assert (record["rows_read"], record["rows_kept"], record["malformed"]) == (4, 2, 2)
  assert record["licence"] == xlsum.LICENCE and len(record["sources"][0]["sha256"]) == 64
  assert record["malformed_examples"][0].startswith(f"{source}:2:")


def test_unknown_language_dataset_and_missing_file_are_named(tmp_path):
  with pytest.raises(UserInputError, match="xlsum has no language 'xx'"):
    datasets.read_examples("xlsum", str(tmp_path), "xx", "train")
  with pytest.raises(UserInputError, match="unknown dataset 'xlsumm'.*xlsum"):
    datasets.read_examples("xlsumm", str(tmp_path), "es", "train")
  with pytest.raises(UserInputError, match="spanish_test.jsonl does not exist"):
    datasets.read_examples("xlsum", str(tmp_path), "es", "test")


def _sharegpt_record(conversation_id, *turns):
  return {"id": conversation_id,
          "conversations": [{"from": role, "value": value} for role, value in turns]}


def test_sharegpt_joins_user_completions_into_multi_turn_conversations(tmp_path):
  directory = tmp_path / "sharegpt" / "train"
  directory.mkdir(parents=True)
  records = [
      _sharegpt_record("a1", ("human", "¿Qué es JAX?"), ("gpt", "respuesta original"),
                       ("human", "¿Y Flax?"), ("gpt", "otra")),
      _sharegpt_record("b2", ("system", "Sé breve."), ("human", "Hola")),
  ]
  (directory / "es.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
  _write_jsonl(directory / "es.completions.jsonl", [
      {"id": "a1", "turn": 0, "completion": "JAX es una biblioteca."},
      {"id": "a1", "turn": 1, "completion": "Flax es una biblioteca de redes."},
      {"id": "b2", "turn": 0, "completion": "¡Hola!"},
  ])
  name = registration.register_task("sharegpt", str(tmp_path), "es", "train",
                                    seqio.ByteVocabulary())
  rows = _task_rows(name, "train")
  assert [row["id"].decode() for row in rows] == ["sharegpt_es_train:1", "sharegpt_es_train:2"]
  # inputs/targets: the first exchange, with the generator's completion (not ChatGPT's).
  assert rows[0]["inputs_pretokenized"].decode() == "¿Qué es JAX?"
  assert rows[0]["targets_pretokenized"].decode() == "JAX es una biblioteca."
  assert json.loads(rows[0]["conversation"].decode()) == [
      {"role": "user", "content": "¿Qué es JAX?"},
      {"role": "assistant", "content": "JAX es una biblioteca."},
      {"role": "user", "content": "¿Y Flax?"},
      {"role": "assistant", "content": "Flax es una biblioteca de redes."}]
  assert json.loads(rows[1]["conversation"].decode())[0] == {"role": "system",
                                                              "content": "Sé breve."}
  assert datasets.get_dataset("sharegpt").kind == "conversation"


def test_sharegpt_missing_or_stray_completions_are_clear_errors(tmp_path):
  directory = tmp_path / "sharegpt" / "train"
  directory.mkdir(parents=True)
  records = [_sharegpt_record("a1", ("human", "uno"), ("human", "dos")),
             _sharegpt_record("b2", ("human", "tres"))]
  (directory / "fr.json").write_text(json.dumps(records), encoding="utf-8")
  completions = directory / "fr.completions.jsonl"
  _write_jsonl(completions, [{"id": "a1", "turn": 0, "completion": "un"},
                             {"id": "b2", "turn": 0, "completion": "trois"}])
  with pytest.raises(DataFormatError, match="'a1' has no completion for human turn 1"):
    datasets.read_examples("sharegpt", str(tmp_path), "fr", "train")
  _write_jsonl(completions, [{"id": "a1", "turn": 0, "completion": "un"},
                             {"id": "a1", "turn": 1, "completion": "deux"},
                             {"id": "b2", "turn": 0, "completion": "trois"},
                             {"id": "zz", "turn": 0, "completion": "?"}])
  with pytest.raises(DataFormatError, match="name conversations that .* does not have.*'zz'"):
    datasets.read_examples("sharegpt", str(tmp_path), "fr", "train")
  completions.unlink()  # without completions, conversations must already be answered
  with pytest.raises(DataFormatError, match="ends without an answer"):
    datasets.read_examples("sharegpt", str(tmp_path), "fr", "train")


def _lcb_prompts(test_data, source, language):
  path = test_data / "language_confusion" / "test_sets" / "monolingual" / source / f"{language}.csv"
  with open(path, encoding="utf-8", newline="") as file:
    return [row["prompt"] for row in csv.DictReader(file)]


def _write_aya_parquet(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  columns = {column: [row[column] for row in rows] for column in aya_evaluation.COLUMNS}
  pyarrow.parquet.write_table(pyarrow.table(columns), path)


def test_aya_evaluation_suite_parquet_selects_rows_by_iso_639_3(tmp_path, test_data):
  """Real Dolly post-edited prompts (Language Confusion Benchmark), in the suite's schema."""
  spanish = _lcb_prompts(test_data, "dolly", "es")[:5]
  arabic = _lcb_prompts(test_data, "dolly", "ar")[:3]
  rows = ([{"id": str(i), "inputs": p, "targets": f"ref {i}", "language": "spa",
            "script": "Latn"} for i, p in enumerate(spanish)]
          + [{"id": str(9 + i), "inputs": p, "targets": "مرجع", "language": "arb",
              "script": "Arab"} for i, p in enumerate(arabic)])
  _write_aya_parquet(tmp_path / "aya_evaluation_suite" / "dolly_human_edited"
                     / aya_evaluation.FILE_NAME, rows)
  name = registration.register_task("dolly_human_edited", str(tmp_path), "ar", "test",
                                    seqio.ByteVocabulary())
  task_rows = _task_rows(name, "test")
  assert [row["id"].decode() for row in task_rows] == [
      "dolly_human_edited_ar_test:5", "dolly_human_edited_ar_test:6",
      "dolly_human_edited_ar_test:7"]
  assert [row["inputs_pretokenized"].decode() for row in task_rows] == [p.strip() for p in arabic]
  record = datasets.provenance("dolly_human_edited", str(tmp_path), "es", "test")
  assert (record["rows_read"], record["rows_kept"]) == (5, 5)
  assert record["licence"] == "Apache-2.0"


def test_aya_evaluation_suite_missing_column_is_named(tmp_path):
  path = tmp_path / "aya_evaluation_suite" / "aya_human_annotated" / aya_evaluation.FILE_NAME
  path.parent.mkdir(parents=True)
  pyarrow.parquet.write_table(pyarrow.table({"id": ["1"], "inputs": ["x"]}), path)
  with pytest.raises(DataFormatError, match="missing columns targets, language, script"):
    datasets.read_examples("aya_human_annotated", str(tmp_path), "pt", "test")


def _write_translated_mgsm(directory, test_data, translator=None):
  directory.mkdir(parents=True, exist_ok=True)
  exemplars = json.loads((test_data / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
  # Stand-ins for the user's translated exemplars: the English ones under pt/ko/ar.
  translated = {language: exemplars["MGSM_EXEMPLARS"]["en"] for language in ("pt", "ko", "ar")}
  (directory / "exemplars.json").write_text(json.dumps({"MGSM_EXEMPLARS": translated}),
                                            encoding="utf-8")
  english = (test_data / "mgsm" / "mgsm_en.tsv").read_text(encoding="utf-8")
  for language in ("pt", "ko", "ar"):
    (directory / f"mgsm_{language}.tsv").write_text(english, encoding="utf-8")
  if translator:
    (directory / "TRANSLATION").write_text(translator + "\n", encoding="utf-8")


def test_translated_mgsm_reads_with_a_provenance_tag(tmp_path, test_data):
  _write_translated_mgsm(tmp_path / "mgsm_translated", test_data, "Google Translate, 2024-05")
  examples = datasets.read_examples("mgsm_translated", str(tmp_path), "ko", "test")
  assert len(examples) == 250 and examples[0]["id"] == "mgsm_translated_ko_test:1"
  assert examples[0]["answer"] == "18" and examples[0]["targets"] == "답은 18입니다."
  record = datasets.provenance("mgsm_translated", str(tmp_path), "ko", "test")
  assert record["tags"] == {"translation": "Google Translate, 2024-05"}
  assert [source["path"].rsplit("/", 1)[1] for source in record["sources"]] == [
      "mgsm_ko.tsv", "exemplars.json"]
