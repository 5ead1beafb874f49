"""P2's evaluation-set readers on small files in the real releases' layouts and formats.

The MMLU-family prompts are checked against lm-evaluation-harness itself (0.4.13): its own
task yaml for the subject or language, loaded with its own yaml loader, run by its
`ConfigurableTask` on the same files (its `csv` / `parquet` / `json` builders in place of the
Hub), must give the same 5-shot context, choices and answer as our example.
"""

import json
import pathlib
import zipfile

import pyarrow
import pyarrow.parquet
import pytest

from tasks import datasets
from tasks.formats import ceval, cmmlu, tydiqa
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.data import __main__ as prepare_binary
from xlt_jax.data.fetch import Fetcher


def _no_network(*arguments):
  raise AssertionError(f"tests never download: {arguments}")


OFFLINE = Fetcher("unused", hub_file=_no_network, url_file=_no_network)


def _recording(files: dict[str, pathlib.Path], hub_listing: tuple[str, ...] = ()):
  """A Fetcher serving local `files` (keyed "<repo>/<name>" or by URL), and its requests."""
  asked = []

  def hub_file(repo, name, cache_dir):
    asked.append((repo, name))
    return str(files[f"{repo}/{name}"])

  def url_file(url, cache_dir):
    asked.append(url)
    return str(files[url])

  fetcher = Fetcher("unused", hub_file=hub_file, url_file=url_file,
                    list_files=lambda repo: list(hub_listing))
  return fetcher, asked


def _write(path: pathlib.Path, text: str) -> pathlib.Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")
  return path


def _jsonl(records) -> str:
  return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def _harness(task_yaml: str, builder: str, data_files: dict[str, str], tmp_path, shots: int):
  """(context, choices, target letter) per evaluated doc, from lm-evaluation-harness."""
  lm_eval = pytest.importorskip("lm_eval")
  from lm_eval.api.task import ConfigurableTask
  from lm_eval.tasks._yaml_loader import load_yaml

  config = load_yaml(pathlib.Path(lm_eval.__file__).parent / "tasks" / task_yaml)
  config.pop("dataset_name", None)
  config.update(dataset_path=builder, dataset_kwargs={
      "data_files": data_files, "cache_dir": str(tmp_path / "hf_datasets")})
  task = ConfigurableTask(config=config)
  docs = list(task.test_docs() if task.has_test_docs() else task.validation_docs())
  found = []
  for doc in docs:
    choices = task.doc_to_choice(doc)
    target = task.doc_to_target(doc)
    found.append((task.fewshot_context(doc, num_fewshot=shots), choices,
                  choices[target] if isinstance(target, int) else target))
  return found


def _ours(examples):
  return [(example["inputs"], json.loads(example["choices"]), example["answer"])
          for example in examples]


# CMMLU: the archive's dev/ and test/ csv files, header ",Question,A,B,C,D,Answer".

CMMLU_HEADER = ",Question,A,B,C,D,Answer\n"


def _cmmlu_release(root: pathlib.Path, test_rows: dict[str, str]) -> pathlib.Path:
  for subject in cmmlu.CMMLU_SUBJECTS:
    _write(root / "dev" / f"{subject}.csv", CMMLU_HEADER + "".join(
        f"{i},{subject}例题{i}？,选项甲{i},选项乙{i},选项丙{i},选项丁{i},{'ABCDA'[i]}\n"
        for i in range(5)))
    _write(root / "test" / f"{subject}.csv", CMMLU_HEADER + test_rows.get(subject, ""))
  return root


def test_cmmlu_is_prepared_from_its_archive_and_prompts_as_lm_evaluation_harness(tmp_path):
  release = _cmmlu_release(tmp_path / "release", {
      "agronomy": "0,  肉牛屠宰后，胴体的哪个部位肉质较好 ,胸,腹,大腿,小腿,C\n"
                  "1,下列鸭品种中，产蛋量最高的品种是,高邮鸭,北京鸭,樱桃谷鸭,绍鸭,D\n",
      "world_religions": "0,佛教的创始人是,释迦牟尼,老子,孔子,耶稣,A\n"})
  archive = tmp_path / "cmmlu_v1_0_1.zip"
  with zipfile.ZipFile(archive, "w") as bundle:
    for path in sorted(release.rglob("*.csv")):
      bundle.write(path, path.relative_to(release).as_posix())
  fetcher, asked = _recording({"haonan-li/cmmlu/cmmlu_v1_0_1.zip": archive})
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "cmmlu", "--out", str(data)], fetcher=fetcher) == 0
  assert asked == [("haonan-li/cmmlu", "cmmlu_v1_0_1.zip")]

  examples = datasets.read_examples("cmmlu", str(data), "zh", "test")
  assert [example["id"] for example in examples] == [
      "cmmlu_zh_test:agronomy/0", "cmmlu_zh_test:agronomy/1", "cmmlu_zh_test:world_religions/0"]
  assert [example["answer"] for example in examples] == ["C", "D", "A"]
  assert examples[0]["inputs"].startswith("以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n"
                                          "agronomy例题0？\nA. 选项甲0\n")
  assert examples[0]["inputs"].endswith("\n\n肉牛屠宰后，胴体的哪个部位肉质较好\nA. 胸\nB. 腹\n"
                                        "C. 大腿\nD. 小腿\n答案：")
  for subject, ours in (("agronomy", examples[:2]), ("world_religions", examples[2:])):
    harness = _harness(f"cmmlu/cmmlu_{subject}.yaml", "csv", {
        "dev": str(data / "cmmlu" / "dev" / f"{subject}.csv"),
        "test": str(data / "cmmlu" / "test" / f"{subject}.csv")}, tmp_path, shots=5)
    assert _ours(ours) == harness


def test_cmmlu_without_test_rows_or_with_a_subject_missing_fails(tmp_path):
  release = _cmmlu_release(tmp_path / "release", {})
  with pytest.raises(DataFormatError, match=r"CMMLU: no rows in .*cmmlu/test"):
    prepare_binary.prepare("cmmlu", str(tmp_path / "data"), str(release), OFFLINE)
  (release / "dev" / "virology.csv").unlink()
  with pytest.raises(UserInputError, match="is not the CMMLU release: it lacks dev/virology.csv"):
    prepare_binary.prepare("cmmlu", str(tmp_path / "other"), str(release), OFFLINE)


# C-Eval: the Hub's `<subject>/{dev,val,test}-00000-of-00001.parquet` files.

CEVAL_COLUMNS = ("id", "question", "A", "B", "C", "D", "answer", "explanation")


def _parquet(path: pathlib.Path, records: list[dict]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  columns = {name: [record[name] for record in records] for name in CEVAL_COLUMNS}
  schema = pyarrow.schema([("id", pyarrow.int32())]
                          + [(name, pyarrow.string()) for name in CEVAL_COLUMNS[1:]])
  pyarrow.parquet.write_table(pyarrow.table(columns, schema=schema), path)


def _ceval_row(number: int, question: str, answer: str, explanation: str = "") -> dict:
  return {"id": number, "question": question, "A": f"甲{number}", "B": f"乙{number}",
          "C": f"丙{number}", "D": f"丁{number}", "answer": answer, "explanation": explanation}


def test_ceval_is_prepared_from_a_hub_snapshot_and_prompts_as_lm_evaluation_harness(tmp_path):
  snapshot = tmp_path / "ceval-exam"
  for subject in ceval.CEVAL_SUBJECTS:
    _parquet(snapshot / subject / "dev-00000-of-00001.parquet",
             [_ceval_row(i, f"{subject}例题{i}", "ABCDA"[i], f"解析{i}") for i in range(5)])
    _parquet(snapshot / subject / "val-00000-of-00001.parquet",
             [_ceval_row(0, "注册会计师 问题一？", "B"), _ceval_row(7, "问题二", "D")]
             if subject == "accountant" else [])
    _parquet(snapshot / subject / "test-00000-of-00001.parquet",
             [_ceval_row(0, "hidden", "")])  # the release's hidden answers: never copied
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "ceval", "--out", str(data), "--source",
                              str(snapshot)], fetcher=OFFLINE) == 0
  assert not list((data / "ceval").rglob("test*"))
  examples = datasets.read_examples("ceval", str(data), "zh", "validation")
  assert [(example["id"], example["answer"]) for example in examples] == [
      ("ceval_zh_validation:accountant/0", "B"), ("ceval_zh_validation:accountant/7", "D")]
  assert examples[0]["inputs"].startswith("以下是中国关于注册会计师的单项选择题，请选出其中的正确答案。")
  harness = _harness("ceval/ceval-valid_accountant.yaml", "parquet", {
      "dev": str(data / "ceval" / "accountant" / "dev.parquet"),
      "val": str(data / "ceval" / "accountant" / "val.parquet")}, tmp_path, shots=5)
  assert _ours(examples) == harness
  # Downloading lists the repository once and fetches each subject's dev and val file.
  listing = [f"{subject}/{split}-00000-of-00001.parquet" for subject in ceval.CEVAL_SUBJECTS
             for split in ("dev", "val", "test")]
  fetcher, asked = _recording({f"ceval/ceval-exam/{name}": snapshot / name for name in listing},
                              hub_listing=tuple(listing))
  prepare_binary.prepare("ceval", str(tmp_path / "downloaded"), None, fetcher)
  assert asked == [("ceval/ceval-exam", f"{subject}/{split}-00000-of-00001.parquet")
                   for subject in ceval.CEVAL_SUBJECTS for split in ("dev", "val")]


# Okapi MMLU: m_mmlu/<lang>_{dev,test}.json with instruction, option_a..option_d, answer.


def _okapi_record(number: int, answer) -> dict:
  return {"instruction": f"  Pregunta {number}: ¿cuál es la capital de Francia? ",
          "option_a": f"París {number}", "option_b": f"Lyon {number}",
          "option_c": f"Niza {number}", "option_d": f"Lille {number}", "answer": answer}


def test_okapi_mmlu_is_downloaded_per_language_and_prompts_as_lm_evaluation_harness(tmp_path):
  release = tmp_path / "m_mmlu"
  dev = _write(release / "es_dev.json", _jsonl(_okapi_record(i, "ABCDAB"[i]) for i in range(6)))
  test = _write(release / "es_test.json",
                _jsonl([_okapi_record(10, "C"), _okapi_record(11, "D")]))
  base = "http://nlp.uoregon.edu/download/okapi-eval/datasets/m_mmlu/"
  fetcher, asked = _recording({base + "es_dev.json": dev, base + "es_test.json": test})
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "okapi_mmlu", "--out", str(data), "--languages", "es"],
                             fetcher=fetcher) == 0
  assert asked == [base + "es_dev.json", base + "es_test.json"]
  examples = datasets.read_examples("okapi_mmlu", str(data), "es", "test")
  assert [(example["id"], example["answer"]) for example in examples] == [
      ("okapi_mmlu_es_test:1", "C"), ("okapi_mmlu_es_test:2", "D")]
  harness = _harness("okapi/mmlu_multilingual/m_mmlu_es.yaml", "json", {
      "train": str(data / "okapi_mmlu" / "es_dev.json"),
      "test": str(data / "okapi_mmlu" / "es_test.json")}, tmp_path, shots=5)
  assert _ours(examples) == harness
  # The first five dev records are the exemplars: the sixth is in no prompt.
  assert "Pregunta 4" in examples[0]["inputs"] and "Pregunta 5" not in examples[0]["inputs"]


def test_okapi_mmlu_takes_an_index_answer_and_fails_without_test_rows(tmp_path):
  root = tmp_path / "okapi_mmlu"
  _write(root / "ru_dev.json", json.dumps([_okapi_record(i, i % 4) for i in range(5)]))
  _write(root / "ru_test.json", json.dumps([_okapi_record(9, 2)]))
  (example,) = datasets.read_examples("okapi_mmlu", str(tmp_path), "ru", "test")
  assert example["answer"] == "C" and "Lyon 1\nC. Niza 1\nD. Lille 1\nAnswer: B\n\n" in (
      example["inputs"])
  _write(root / "ru_test.json", "[]")
  with pytest.raises(DataFormatError, match=r"Okapi MMLU: no rows in .*ru_test.json"):
    datasets.read_examples("okapi_mmlu", str(tmp_path), "ru", "test")
