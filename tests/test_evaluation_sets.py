"""P2's evaluation-set readers on small files in the real releases' layouts and formats.

The MMLU-family prompts are checked against lm-evaluation-harness itself (0.4.13): its own
task yaml for the subject or language, loaded with its own yaml loader, run by its
`ConfigurableTask` on the same files (its `csv` / `parquet` / `json` builders in place of the
Hub), must give the same 5-shot context, choices and answer as our example.
"""

import json
import pathlib
import random
import zipfile

import pyarrow
import pyarrow.parquet
import pytest

from tasks import datasets
from tasks.formats import ceval, cmmlu, mmmlu, tydiqa
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
  import lm_eval  # the test extras pin it: a missing reference fails, never skips
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
  record = datasets.provenance("cmmlu", str(data), "zh", "test")
  assert (record["rows_read"], record["rows_kept"], len(record["sources"])) == (3, 3, 134)
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
  _write(root / "ru_test.json", json.dumps([_okapi_record(9, 2), _okapi_record(10, "E")]))
  with pytest.raises(DataFormatError, match=r"1 of 2 rows are malformed .*ru_test.json:item 2:"
                     r" answer 'E' is not one of A, B, C, D"):
    datasets.read_examples("okapi_mmlu", str(tmp_path), "ru", "test")
  _write(root / "ru_test.json", "[]")
  with pytest.raises(DataFormatError, match=r"Okapi MMLU: no rows in .*ru_test.json"):
    datasets.read_examples("okapi_mmlu", str(tmp_path), "ru", "test")


# MMMLU: test/mmlu_<LOCALE>.csv, columns Question,A,B,C,D,Answer,Subject.


def test_mmmlu_uses_its_locale_files_and_prompts_as_lm_evaluation_harness(tmp_path):
  header = "Question,A,B,C,D,Answer,Subject\n"
  lines = [f"¿Qué hueso {i}?,fémur {i},tibia {i},radio {i},cúbito {i},{'ABCD'[i % 4]},anatomy\n"
           for i in range(6)]
  lines[3] = lines[3].replace(",anatomy\n", ",anatomy_test.csv_es-LA.csv\n")  # as released
  release = _write(tmp_path / "release" / "mmlu_ES-LA.csv", header + "".join(lines))
  names = [f"test/mmlu_{locale}.csv" for locale, _ in mmmlu.LOCALES.values()]
  fetcher, asked = _recording({f"openai/MMMLU/{name}": release for name in names})
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "mmmlu", "--out", str(data)], fetcher=fetcher) == 0
  assert asked == [("openai/MMMLU", name) for name in names]
  assert "test/mmlu_ZH-CN.csv" in names  # the file's name, not the card's "ZN-CN"
  examples = datasets.read_examples("mmmlu", str(data), "es", "test")
  assert [example["id"] for example in examples] == [f"mmmlu_es_test:{i}" for i in range(6)]
  assert examples[0]["inputs"].startswith(
      "The following are multiple choice questions (with answers) about anatomy (Spanish).\n\n"
      "¿Qué hueso 1?\n")  # the first five other questions of the subject
  harness = _harness("openai-mmmlu/default/mmmlu_es_la_anatomy.yaml", "csv", {
      "test": str(data / "mmmlu" / "test" / "mmlu_ES-LA.csv")}, tmp_path, shots=5)
  assert _ours(examples) == harness
  # A subject with fewer than six questions cannot give each five others.
  with open(data / "mmmlu" / "test" / "mmlu_ES-LA.csv", "a", encoding="utf-8") as file:
    file.write("¿Qué planeta?,Marte,Venus,Tierra,Júpiter,A,astronomy\n")
  with pytest.raises(DataFormatError, match="0 few-shot exemplars for 6, need 5"):
    datasets.read_examples("mmmlu", str(data), "es", "test")


# TyDi QA GoldP: SQuAD-format files, the language in the question id's prefix.


def _tydi(qas_by_context: list[tuple[str, list[tuple[str, str, str]]]]) -> str:
  return json.dumps({"version": "TyDiQA-GoldP-1.1", "data": [
      {"title": "", "paragraphs": [{"context": context, "qas": [
          {"id": qa_id, "question": question,
           "answers": [{"text": answer, "answer_start": context.find(answer)}]}
          for qa_id, question, answer in qas]}]}
      for context, qas in qas_by_context]}, ensure_ascii=False)


def test_tydiqa_validation_is_open_instructs_one_shot_prompt_in_the_language(tmp_path):
  release = tmp_path / "release"
  _write(release / "tydiqa-goldp-v1.1-train.json", _tydi([
      ("Москва — столица России.", [("russian-111-0", "Какая столица России?", "Москва")]),
      ("Paris is the capital of France.", [("english-222-0", "What is France's capital?",
                                            "Paris")])]))
  _write(release / "tydiqa-goldp-v1.1-dev.json", _tydi([
      ("Нева течёт через Санкт-Петербург.", [
          ("russian-333-0", "Через какой город течёт Нева?", "Санкт-Петербург"),
          ("russian-333-1", "Что течёт через Санкт-Петербург?", "Нева")]),
      ("Berlin is in Germany.", [("english-444-0", "Where is Berlin?", "Germany")])]))
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "tydiqa", "--out", str(data), "--source",
                              str(release)], fetcher=OFFLINE) == 0
  examples = datasets.read_examples("tydiqa", str(data), "ru", "validation")
  assert [(example["id"], example["answer"]) for example in examples] == [
      ("tydiqa_ru_validation:russian-333-0", "Санкт-Петербург"),
      ("tydiqa_ru_validation:russian-333-1", "Нева")]
  assert examples[0]["inputs"] == (
      "Ответьте на следующий вопрос на основе информации в данном отрывке.\n\n"
      "Отрывок: Москва — столица России.\nВопрос: Какая столица России?\nОтвет: Москва\n\n"
      "Отрывок: Нева течёт через Санкт-Петербург.\nВопрос: Через какой город течёт Нева?\n"
      "Ответ:")
  assert datasets.get_dataset("tydiqa").metric == datasets.get_dataset("xquad").metric
  with pytest.raises(DataFormatError, match=r"tydiqa: no rows with id prefix 'finnish' in .*"
                     r"train.json; id prefix values seen: english \(1\), russian \(1\)"):
    datasets.read_examples("tydiqa", str(data), "fi", "validation")
  # Downloads come from the release's bucket.
  fetcher, asked = _recording({tydiqa.URL.format(name): release / name for name in (
      "tydiqa-goldp-v1.1-train.json", "tydiqa-goldp-v1.1-dev.json")})
  prepare_binary.prepare("tydiqa", str(tmp_path / "downloaded"), None, fetcher)
  assert asked == ["https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-train.json",
                   "https://storage.googleapis.com/tydiqa/v1.1/tydiqa-goldp-v1.1-dev.json"]


def test_tydiqa_exemplar_is_one_seeded_draw_from_the_languages_train_questions():
  pool = [{"id": f"russian-{i}", "context": f"c{i}", "question": f"q{i}", "answer": f"a{i}"}
          for i in range(20)]
  (chosen,) = tydiqa.exemplars(pool)
  assert tydiqa.exemplars(pool) == [chosen]  # the same exemplar for every item
  assert chosen == random.Random(42).sample(pool, 1)[0]
  with pytest.raises(DataFormatError, match="0 train questions, need 1"):
    tydiqa.exemplars([])


# Chen et al.'s human-translated OASST questions: test-data/test_<lang>.jsonl, {"id", "prompt"}.


def test_translated_oasst_questions_are_parallel_by_message_id(tmp_path):
  message = "50168627-eb95-4d5a-a2c8-d6ccbc00642c"  # line 1 of the release in every language
  release = tmp_path / "test-data"
  files = {"ru": _write(release / "test_ru.jsonl", _jsonl([
      {"id": message, "prompt": "Мой сын сказал, чтобы я кликнула на этот batch-файл."},
      {"id": "26e063e8-26f2-4686-af52-165fc1a3d196", "prompt": "Какой уровень витамина D?"}])),
      "zh": _write(release / "test_zh.jsonl", _jsonl([
          {"id": message, "prompt": "我儿子告诉我当我的网络卡住时，就点击这个“批处理文件”。"}]))}
  base = ("https://raw.githubusercontent.com/hplt-project/monolingual-multilingual-instruction-"
          "tuning/main/test-data/")
  fetcher, asked = _recording({base + f"test_{language}.jsonl": files.get(language, files["ru"])
                               for language in datasets.get_dataset(
                                   "oasst_human_translated").languages})
  data = tmp_path / "data"
  assert prepare_binary.main(["prepare", "oasst_human_translated", "--out", str(data)],
                             fetcher=fetcher) == 0
  assert base + "test_es.jsonl" in asked and len(asked) == 11
  russian = datasets.read_examples("oasst_human_translated", str(data), "ru", "test")
  chinese = datasets.read_examples("oasst_human_translated", str(data), "zh", "test")
  assert russian[0]["id"].split(":")[1] == chinese[0]["id"].split(":")[1] == message
  assert russian[1]["inputs"] == "Какой уровень витамина D?" and russian[1]["targets"] == ""
  assert datasets.get_dataset("oasst_human_translated").metric == "llm_judge"
  _write(data / "oasst_human_translated" / "test_zh.jsonl", "\n")
  with pytest.raises(DataFormatError, match="translated OASST questions: no rows in"):
    datasets.read_examples("oasst_human_translated", str(data), "zh", "test")


# P1's AlpacaFarm translations: never released; the user's own, in the variant layout.


def test_alpaca_farm_translations_say_p1_never_released_them_and_read_the_variant_layout(
    tmp_path):
  english = [{"instruction": "Give three tips.", "input": "", "output": "1.", "dataset":
              "helpful_base"},
             {"instruction": "What is OASST?", "input": "", "output": "A.", "dataset": "oasst"},
             {"instruction": "Sort these.", "input": "3, 1, 2", "output": "1, 2, 3",
              "dataset": "selfinstruct"}]
  _write(tmp_path / "alpaca_farm" / "alpaca_farm_evaluation.json", json.dumps(english))
  with pytest.raises(UserInputError, match=r"alpaca_farm_translated_google: .*variants/"
                     r"translated_google/alpaca_farm/alpaca_farm_evaluation_es.json does not"
                     r" exist\. P1 \(Shaham et al\., 2024\) never released"):
    datasets.read_examples("alpaca_farm_translated_google", str(tmp_path), "es", "test")
  spanish = [dict(record, instruction=text, input=extra) for record, text, extra in zip(
      english, ["Da tres consejos.", "¿Qué es OASST?", "Ordena estos."], ["", "", "3, 1, 2"])]
  mine = _write(tmp_path / "mine" / "alpaca_farm_evaluation_es.json", json.dumps(spanish))
  assert prepare_binary.main(["prepare", "alpaca_farm_translated_google", "--out",
                              str(tmp_path), "--source", str(mine.parent)], fetcher=OFFLINE) == 0
  load = datasets.load("alpaca_farm_translated_google", str(tmp_path), "es", "test")
  assert [(example["id"], example["inputs"]) for example in load.examples] == [
      ("alpaca_farm_translated_google_es_test:1", "Da tres consejos."),
      ("alpaca_farm_translated_google_es_test:3", "Ordena estos.\n\n3, 1, 2")]
  assert load.filtered == {"origin_oasst": 1} and load.tags["engine"] == "Google Translate"
  english_ids = [example["id"].split(":")[1] for example in
                 datasets.read_examples("alpaca_farm", str(tmp_path), "en", "test")]
  assert english_ids == ["1", "3"]  # parallel to the translation's positions
  assert set(datasets.get_dataset("alpaca_farm_translated_google").languages) >= {
      "ar", "zh", "cs", "et", "fi", "he", "hi", "it", "ru", "es", "sw"}
