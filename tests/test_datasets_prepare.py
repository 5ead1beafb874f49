"""`python -m xlt_jax.data prepare` on small local files in the official release formats."""

import io
import json
import os
import random
import shutil
import tarfile
import tracemalloc
import zipfile

import pyarrow
import pyarrow.parquet
import pytest

from tasks import datasets
from tasks.formats import aya_evaluation
from xlt_jax.core.errors import DataFormatError
from xlt_jax.data import __main__ as prepare_binary
from xlt_jax.data import mcot_math
from xlt_jax.data.fetch import Fetcher

MCOT_LANGUAGES = ("en", "es", "fr", "ja", "zh")


def _no_network(*arguments):
  raise AssertionError(f"tests never download: {arguments}")


OFFLINE = Fetcher("unused", hub_file=_no_network, url_file=_no_network)


def _write_mcot_release(path, records_per_language, broken_at=()):
  """A JSON list like mcot_math.json: records with question, CoT answer and language."""
  generator = random.Random(0)
  with open(path, "w", encoding="utf-8") as file:
    file.write("[\n")
    index = 0
    for number in range(records_per_language):
      for language in MCOT_LANGUAGES:
        record = {"question": f"[{language}] Question {number}: {'x' * generator.randint(50, 400)}?",
                  "answer": f"Step 1 ... step {number % 7}. The answer is: {number}",
                  "lang": language}
        if index in broken_at:
          record["lang"] = "xx"
        file.write(("" if index == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        index += 1
    file.write("\n]\n")
  return index


def test_mcot_math_splits_a_multi_megabyte_list_per_language_in_bounded_memory(tmp_path):
  release = tmp_path / "mcot_math.json"
  total = _write_mcot_release(release, 3600)  # 18,000 records, ~6 MB
  size = os.path.getsize(release)
  assert size > 5_000_000
  progress = io.StringIO()
  tracemalloc.start()
  try:
    summary = mcot_math.split_by_language(str(release), str(tmp_path / "data"),
                                          validation_fraction=0.01, progress_stream=progress)
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  # One record and the parser's and writers' buffers (~0.4 MB), whatever the file size.
  assert peak < size / 8, f"peak {peak} bytes for a {size}-byte file: not streaming"
  assert summary["records"] == total and summary["malformed"] == 0
  assert len(summary["sha256"]) == 64
  written = summary["written"]
  for language in MCOT_LANGUAGES:
    assert written[f"train/{language}"] + written[f"validation/{language}"] == 3600
    assert 10 <= written[f"validation/{language}"] <= 80  # ~1% held out
  assert "18,000 records" in progress.getvalue() and "(100%)" in progress.getvalue()
  train = datasets.read_examples("mcot_math", str(tmp_path / "data"), "ja", "train")
  validation = datasets.read_examples("mcot_math", str(tmp_path / "data"), "ja", "validation")
  assert len(train) == written["train/ja"] and train[0]["id"] == "mcot_math_ja_train:1"
  assert {e["inputs"] for e in train}.isdisjoint(e["inputs"] for e in validation)
  assert train[0]["answer"] == train[0]["targets"].rsplit(" ", 1)[1]
  # Each line is the original record plus its index in the release.
  first_line = json.loads((tmp_path / "data/mcot_math/train/ja.jsonl").read_text().split("\n")[0])
  assert first_line["lang"] == "ja" and first_line["index"] % 5 == 3


def test_mcot_math_malformed_records_fail_and_leave_nothing_written(tmp_path, capsys):
  release = tmp_path / "mcot_math.json"
  _write_mcot_release(release, 20, broken_at=(7,))
  out = tmp_path / "data"
  status = prepare_binary.main(["prepare", "mcot_math", "--out", str(out),
                                "--source", str(release)], fetcher=OFFLINE)
  error = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
  assert status == 2 and error.startswith("error: ")
  assert f"{release}:item 7: language 'xx'" in error and "1 of 100 rows" in error
  assert not (out / "mcot_math" / "train").exists() or not os.listdir(out / "mcot_math" / "train")
  # A stated tolerance keeps the rest and records the count.
  status = prepare_binary.main(["prepare", "mcot_math", "--out", str(out), "--source",
                                str(release), "--max_malformed_fraction", "0.05"],
                               fetcher=OFFLINE)
  assert status == 0
  prepared = json.loads((out / "mcot_math" / "prepared.json").read_text())
  assert prepared["malformed"] == 1 and prepared["records"] == 100


def test_mcot_math_not_a_json_list_names_the_file(tmp_path):
  release = tmp_path / "mcot_math.json"
  release.write_text('[{"question": "q", "answer": "a", "lang": "en"}, {"question": ', "utf-8")
  with pytest.raises(DataFormatError, match="not a valid JSON list"):
    mcot_math.split_by_language(str(release), str(tmp_path / "data"), progress_stream=io.StringIO())


def test_download_fetches_the_official_hub_files(tmp_path):
  """Without --source, preparation asks the Hub for the release's repository and files."""
  release = tmp_path / "release.json"
  _write_mcot_release(release, 3)
  snapshot = tmp_path / "snapshot"
  for subset in aya_evaluation.SUBSETS:
    path = snapshot / aya_evaluation.hub_file(subset)
    path.parent.mkdir(parents=True)
    pyarrow.parquet.write_table(pyarrow.table(
        {"id": ["1"], "inputs": ["Olá?"], "targets": ["Oi."], "language": ["por"],
         "script": ["Latn"]}), path)
  requested = []

  def fake_hub_file(repo_id, filename, cache_dir):
    requested.append((repo_id, filename))
    if repo_id == "laihuiyuan/mCoT-MATH":
      return str(release)
    return str(snapshot / filename)

  fetcher = Fetcher(str(tmp_path / "cache"), hub_file=fake_hub_file, url_file=_no_network)
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "mcot_math", "--out", str(out)], fetcher=fetcher) == 0
  assert prepare_binary.main(["prepare", "aya_evaluation_suite", "--out", str(out)],
                             fetcher=fetcher) == 0
  assert requested == [("laihuiyuan/mCoT-MATH", "mcot_math.json")] + [
      ("CohereForAI/aya_evaluation_suite", f"{subset}/test-00000-of-00001.parquet")
      for subset in aya_evaluation.SUBSETS]
  examples = datasets.read_examples("dolly_machine_translated", str(out), "pt", "test")
  assert [e["inputs"] for e in examples] == ["Olá?"]


def _xlsum_lines(language_name, split):
  return "".join(json.dumps({"id": f"{language_name}-{split}-{n}", "url": "https://www.bbc.com/x",
                             "title": "t", "summary": f"summary {n}", "text": f"text {n}"}) + "\n"
                 for n in range(3))


def test_xlsum_prepares_from_the_release_archive(tmp_path):
  source = tmp_path / "release"
  source.mkdir()
  with tarfile.open(source / "french_XLSum_v2.0.tar.bz2", "w:bz2") as archive:
    for split in ("train", "val", "test"):
      data = _xlsum_lines("french", split).encode()
      member = tarfile.TarInfo(f"french_{split}.jsonl")
      member.size = len(data)
      archive.addfile(member, io.BytesIO(data))
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "xlsum", "--out", str(out), "--source", str(source),
                              "--languages", "fr"], fetcher=OFFLINE) == 0
  assert sorted(os.listdir(out / "xlsum")) == ["french_test.jsonl", "french_train.jsonl",
                                                "french_val.jsonl"]
  examples = datasets.read_examples("xlsum", str(out), "fr", "validation")
  assert [e["targets"] for e in examples] == ["summary 0", "summary 1", "summary 2"]


def test_sharegpt_release_is_split_by_the_language_of_its_first_prompt(tmp_path):
  release = tmp_path / "sharegpt.json"
  conversations = [
      {"id": "1", "conversations": [{"from": "human", "value": "¿Cuál es la capital de Francia y por qué es tan famosa?"},
                                    {"from": "gpt", "value": "París."}]},
      {"id": "2", "conversations": [{"from": "human", "value": "What is the capital of France and why is it so famous?"},
                                    {"from": "gpt", "value": "Paris."}]},
      {"id": "3", "conversations": [{"from": "human", "value": "Quelle est la capitale de la France et pourquoi est-elle si célèbre ?"}]},
      {"id": "4", "conversations": [{"from": "gpt", "value": "no prompt"}]},
      {"id": "5", "conversations": "broken"},
  ]
  release.write_text(json.dumps(conversations, ensure_ascii=False), encoding="utf-8")
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "sharegpt", "--out", str(out), "--source", str(release),
                              "--max_malformed_fraction", "0.25"], fetcher=OFFLINE) == 0
  summary = json.loads((out / "sharegpt" / "prepared.json").read_text())
  assert summary["written"] == {"en": 1, "es": 1, "fr": 1}
  assert summary["malformed"] == 1 and summary["filtered"]["no_human_turn"] == 1
  spanish = json.loads((out / "sharegpt" / "train" / "es.json").read_text(encoding="utf-8"))
  assert [record["id"] for record in spanish] == ["1"]
  examples = datasets.read_examples("sharegpt", str(out), "en", "train")
  assert examples[0]["targets"] == "Paris."


def test_translated_mgsm_is_validated_before_it_is_copied(tmp_path, test_data):
  source = tmp_path / "translated"
  source.mkdir()
  shutil.copy(test_data / "mgsm" / "exemplars.json", source / "exemplars.json")
  out = tmp_path / "data"
  status = prepare_binary.main(["prepare", "mgsm_translated", "--out", str(out), "--source",
                                str(source), "--languages", "pt"], fetcher=OFFLINE)
  assert status == 2  # the official exemplars have no Portuguese
  assert not (out / "mgsm_translated").exists()


@pytest.mark.parametrize("arguments, message", [
    (["prepare", "xlsumm", "--out", "DATA"], "unknown dataset 'xlsumm'; prepare knows"),
    (["prepare", "xlsum", "--out", "DATA", "--languages", "xx"], "unknown xlsum language code 'xx'"),
    (["prepare", "mgsm_translated", "--out", "DATA"], "mgsm_translated has no download"),
    (["prepare", "xlsum", "--out", "DATA", "--source", "/no/such/dir"], "--source /no/such/dir"),
])
def test_bad_requests_print_one_error_line_and_exit_2(arguments, message, tmp_path, capsys):
  arguments = [str(tmp_path / "data") if a == "DATA" else a for a in arguments]
  assert prepare_binary.main(arguments, fetcher=OFFLINE) == 2
  error = capsys.readouterr().err
  assert error.startswith("error: ") and message in error and error.count("\n") == 1


def test_release_files_come_from_their_hub_repositories_or_the_source(tmp_path):
  """Guanaco from the Hub (fake fetcher); OASST's hashed shard found by listing; XNLI's zip."""
  line = json.dumps({"text": "### Human: What is the capital of France, and why?### Assistant: Paris."})
  (tmp_path / "openassistant_best_replies_train.jsonl").write_text(line + "\n")
  (tmp_path / "openassistant_best_replies_eval.jsonl").write_text(line + "\n")
  requested = []

  def fake_hub_file(repo_id, filename, cache_dir):
    requested.append((repo_id, filename))
    return str(tmp_path / os.path.basename(filename))

  def fake_list_files(repo_id):
    return ["README.md", "data/train-00000-of-00001-b42a775f407cee45.parquet",
            "data/validation-00000-of-00001-134b8fd0c89408b6.parquet"]

  fetcher = Fetcher("cache", hub_file=fake_hub_file, url_file=_no_network,
                    list_files=fake_list_files)
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "guanaco", "--out", str(out)], fetcher=fetcher) == 0
  for name in ("train-00000-of-00001-b42a775f407cee45.parquet",
               "validation-00000-of-00001-134b8fd0c89408b6.parquet"):
    pyarrow.parquet.write_table(pyarrow.table({"message_id": ["m"]}), tmp_path / name)
  assert prepare_binary.main(["prepare", "oasst", "--out", str(out)], fetcher=fetcher) == 0
  assert requested == [
      ("timdettmers/openassistant-guanaco", "openassistant_best_replies_train.jsonl"),
      ("timdettmers/openassistant-guanaco", "openassistant_best_replies_eval.jsonl"),
      ("OpenAssistant/oasst1", "data/train-00000-of-00001-b42a775f407cee45.parquet"),
      ("OpenAssistant/oasst1", "data/validation-00000-of-00001-134b8fd0c89408b6.parquet")]
  assert datasets.read_examples("guanaco", str(out), "en", "test")[0]["targets"] == "Paris."
  assert (out / "oasst1" / "validation.parquet").is_file()
  header = "language\tgold_label\tsentence1\tsentence2\tpairID\n"
  with zipfile.ZipFile(tmp_path / "XNLI-1.0.zip", "w") as release:
    release.writestr("XNLI-1.0/xnli.dev.tsv", header + "de\tneutral\tA.\tB.\t1\n")
    release.writestr("XNLI-1.0/xnli.test.tsv", header + "de\tentailment\tC.\tD.\t2\n")
  assert prepare_binary.main(["prepare", "xnli", "--out", str(out), "--source",
                              str(tmp_path / "XNLI-1.0.zip")], fetcher=OFFLINE) == 0
  assert datasets.read_examples("xnli", str(out), "de", "test")[0]["id"] == "xnli_de_test:2"
