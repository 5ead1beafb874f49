"""Readers and `prepare` on small files written in the layouts of the real public releases.

Each test builds its file in the layout the release actually has (cited in the reader's
module docstring): region-tagged OASST1 `lang`, P3's OpenLID-labelled and <S1>/<S2>
Guanaco, P3's JSON-Lines AlpacaEval translations, X-CSR's `jap` folder, XLSum's lower-case
Hub archives, MGSM's `exemplars.py`, mCoT-MATH's `lang` / `lang-id` records.
"""

import io
import json
import os
import tarfile
import zipfile

import pyarrow
import pyarrow.parquet
import pytest

from tasks import datasets
from tasks.formats import language_codes, rows
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.data import __main__ as prepare_binary
from xlt_jax.data import mgsm
from xlt_jax.data.fetch import Fetcher


def _no_network(*arguments):
  raise AssertionError(f"tests never download: {arguments}")


OFFLINE = Fetcher("unused", hub_file=_no_network, url_file=_no_network)


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")


def _jsonl(records):
  return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


# A language a reader claims but the file has no row of fails, naming what it has.


def test_a_language_without_rows_fails_naming_the_file_and_the_values_seen(tmp_path):
  header = "language\tgold_label\tsentence1\tsentence2\tpairID\n"
  _write(tmp_path / "xnli" / "xnli.test.tsv",
         header + "de\tneutral\tA.\tB.\t1\n" + "de\tentailment\tC.\tD.\t2\n"
         + "en\tneutral\tE.\tF.\t1\n")
  with pytest.raises(DataFormatError) as error:
    datasets.read_examples("xnli", str(tmp_path), "fr", "test")
  message = str(error.value)
  assert message == (f"xnli: no rows with language 'fr' in {tmp_path / 'xnli' / 'xnli.test.tsv'};"
                     " language values seen: de (2), en (1)")
  assert isinstance(error.value, UserInputError)  # the binaries print it as one line


def test_aya_readers_fail_on_a_language_the_file_does_not_have(tmp_path):
  path = tmp_path / "aya_evaluation_suite" / "dolly_human_edited" / "test-00000-of-00001.parquet"
  path.parent.mkdir(parents=True)
  pyarrow.parquet.write_table(pyarrow.table(
      {"id": ["1", "2"], "inputs": ["¿Hola?", "Привет?"], "targets": ["Hola.", "Привет."],
       "language": ["spa", "rus"], "script": ["Latn", "Cyrl"]}), path)
  with pytest.raises(DataFormatError, match=r"dolly_human_edited: no rows with language 'fr'"
                     r" in .*; language values seen: rus \(1\), spa \(1\)"):
    datasets.read_examples("dolly_human_edited", str(tmp_path), "fr", "test")
  assert len(datasets.read_examples("dolly_human_edited", str(tmp_path), "es", "test")) == 1


def test_the_values_seen_are_listed_most_frequent_first_and_capped():
  field = rows.LanguageField("demo", "FILE", "lang", "pt")
  for value in ["pt-BR", "en", "en", None]:
    field.seen(value, False)
  with pytest.raises(DataFormatError) as error:
    field.check()
  assert str(error.value) == ("demo: no rows with lang 'pt' in FILE; lang values seen:"
                              " en (2), None (1), pt-BR (1)")
  empty = rows.LanguageField("demo", "FILE", "lang", "pt")
  with pytest.raises(DataFormatError, match="values seen: none"):
    empty.check()
  many = rows.LanguageField("demo", "FILE", "lang", "pt")
  for number in range(20):
    many.seen(f"x{number:02d}", False)
  with pytest.raises(DataFormatError, match=r"x11 \(1\), and 8 more values$"):
    many.check()


# OASST1: `lang` holds BCP-47 tags, some region-tagged ("pt-BR", "uk-UA").


def _write_oasst(path, prompts):
  """An OASST1 message table: each (lang, text) a root prompt with a rank-0 reply."""
  messages = {"message_id": [], "parent_id": [], "text": [], "role": [], "lang": [], "rank": []}
  for number, (lang, text) in enumerate(prompts):
    for message_id, parent_id, role, rank, content in (
        (f"p{number}", None, "prompter", None, text),
        (f"r{number}", f"p{number}", "assistant", 0, f"reply to {text}")):
      for column, value in zip(messages, (message_id, parent_id, content, role, lang, rank)):
        messages[column].append(value)
  path.parent.mkdir(parents=True, exist_ok=True)
  pyarrow.parquet.write_table(pyarrow.table(messages), path)


def test_oasst_region_tagged_lang_counts_for_its_base_language(tmp_path):
  _write_oasst(tmp_path / "oasst1" / "train.parquet",
               [("pt-BR", "Olá, tudo bem?"), ("en", "Hi?"), ("uk-UA", "Привіт?"),
                ("pt-BR", "Qual é a capital?"), ("zh", "你好？"), ("en", "How?")])
  portuguese = datasets.read_examples("oasst", str(tmp_path), "pt", "train")
  assert [(e["id"], e["inputs"]) for e in portuguese] == [
      ("oasst_pt_train:p0", "Olá, tudo bem?"), ("oasst_pt_train:p3", "Qual é a capital?")]
  assert [e["id"] for e in datasets.read_examples("oasst", str(tmp_path), "uk", "train")] == [
      "oasst_uk_train:p2"]
  assert len(datasets.read_examples("oasst", str(tmp_path), "zh", "train")) == 1
  with pytest.raises(DataFormatError) as error:
    datasets.read_examples("oasst", str(tmp_path), "fr", "train")
  assert str(error.value) == (
      f"oasst1: no rows with lang 'fr' in {tmp_path / 'oasst1' / 'train.parquet'}; lang values"
      " seen: en (2), pt-BR (2), uk-UA (1), zh (1)")


@pytest.mark.parametrize("label, code", [
    ("pt-BR", "pt"), ("uk-UA", "uk"), ("zh", "zh"), ("zh-TW", "zh"), ("ES", "es"),
    ("spa_Latn", "es"), ("zho_Hans", "zh"), ("eng_Latn", "en"), ("cat_Latn", "ca"),
    ("por", "pt"), ("xyz_Latn", None), ("", None), (None, None)])
def test_base_language_of_bcp47_openlid_and_iso_labels(label, code):
  assert language_codes.base_language(label) == code


# Guanaco as P3 releases it: OpenLID labels, <S1>/<S2> turns, trailing user turns.

SPANISH = "Soy nuevo en la cocina. Tengo invitados que vienen. ¿Cómo sé cuánta comida cocinar?"
SPANISH_REPLY = "Puede ser difícil estimar cuánta comida debes cocinar."
CHINESE = "你好，我想学习如何打羽毛球。你能向我解释一下这个游戏的规则吗？"
ENGLISH = "I am new to cooking. I have guests coming over. How do I know how much food to cook?"


def test_guanaco_reads_openlid_labels_and_p3_turn_markers(tmp_path):
  lines = [
      {"text": f"<S1> {SPANISH} <S2> {SPANISH_REPLY} <S1> ¿Diferentes culturas tienen"
               " diferentes formas de calcular las cantidades? <S2> Sí, aquí tienes algunos"
               " ejemplos.", "lang": "spa_Latn", "id": 29},
      {"text": f"### Human: {ENGLISH}### Assistant: It can be difficult to estimate.",
       "lang": "eng_Latn", "id": 30},
      # Ends on a user turn (as in the release): the unanswered question is dropped.
      {"text": f"<S1> {SPANISH}<S2> {SPANISH_REPLY}<S1> ¿Con cuál debería comenzar?",
       "lang": "spa_Latn", "id": 31},
      {"text": f"### Human: {CHINESE}### Assistant: 当然可以。", "lang": "zho_Hans", "id": 32},
  ]
  path = tmp_path / "guanaco" / "openassistant_best_replies_train.jsonl"
  _write(path, _jsonl(lines))
  spanish = datasets.read_examples("guanaco", str(tmp_path), "es", "train")
  assert [e["id"] for e in spanish] == ["guanaco_es_train:1", "guanaco_es_train:3"]
  assert (spanish[0]["inputs"], spanish[0]["targets"]) == (SPANISH, SPANISH_REPLY)
  assert [turn["role"] for turn in json.loads(spanish[0]["conversation"])] == [
      "user", "assistant", "user", "assistant"]
  assert json.loads(spanish[1]["conversation"]) == [
      {"role": "user", "content": SPANISH}, {"role": "assistant", "content": SPANISH_REPLY}]
  record = datasets.provenance("guanaco", str(tmp_path), "es", "train")
  assert record["tags"]["trailing_user_turns_dropped"] == "1"
  assert record["rows_kept"] == 2 and record["malformed"] == 0
  assert [e["id"] for e in datasets.read_examples("guanaco", str(tmp_path), "zh", "train")] == [
      "guanaco_zh_train:4"]
  with pytest.raises(DataFormatError, match=r"guanaco: no rows with lang 'fr' in .*train\.jsonl;"
                     r" lang values seen: spa_Latn \(2\), eng_Latn \(1\), zho_Hans \(1\)"):
    datasets.read_examples("guanaco", str(tmp_path), "fr", "train")


def test_guanaco_translated_copy_with_s1_s2_turns_and_no_label(tmp_path):
  _write(tmp_path / "guanaco" / "openassistant_best_replies_train.jsonl",
         _jsonl([{"text": f"### Human: {ENGLISH}### Assistant: It can be difficult to estimate."}]))
  variant = tmp_path / "variants" / "translated" / "guanaco"
  _write(variant / "openassistant_best_replies_train.jsonl",
         _jsonl([{"text": f"<S1> {SPANISH} <S2> {SPANISH_REPLY}", "parallel_id": 1},
                 {"text": "<S1> <S2> vacío"}]))  # an empty user turn is malformed
  lenient = datasets.ReadPolicy(max_malformed_fraction=0.5)
  translated = datasets.read_examples("guanaco_translated", str(tmp_path), "es", "train", lenient)
  assert [(e["inputs"], e["parallel_id"]) for e in translated] == [(SPANISH, "1")]
  with pytest.raises(DataFormatError, match="lang values seen: py3langid:es"):
    datasets.read_examples("guanaco_translated", str(tmp_path), "de", "train", lenient)


# AlpacaEval translations as P3 publishes them: JSON Lines of {"instruction"}, quoted.


def test_p3_alpaca_eval_translations_are_prepared_from_a_checkout_and_unquoted(tmp_path):
  checkout = tmp_path / "multilingual-instruction-tuning"
  _write(checkout / "data" / "alpaca_eval_instructions_es.json", _jsonl([
      {"instruction": '"¿Cómo obtuvieron los estados de EE. UU. sus nombres?"'},
      {"instruction": 'He leído el libro "Los doce Césares" de Suetonio varias veces.'},
      {"instruction": '"Quiero hablar sobre "Smooth", una canción de Rob Thomas."'}]))
  _write(checkout / "data" / "alpaca_eval_instructions_en.json",
         _jsonl([{"instruction": "How did US states get their names?"}]))
  _write(checkout / "data" / "alpaca_eval" / "alpaca_eval_instructions_zh.json", _jsonl([
      {"instruction": "“有哪些著名演员是从百老汇开始他们的职业生涯的？”"},
      {"instruction": "美国各州是如何得到它们的名字的？"}]))
  outputs = checkout / "data" / "alpaca_eval_outputs" / "falcon_7b_es_merged"
  _write(outputs / "alpaca_eval_instructions_es-none-guanaco_prompt-s0-k50-p0.9-t0.8-b8.json",
         "[]")
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "alpaca_eval_translated", "--out", str(out),
                              "--source", str(checkout)], fetcher=OFFLINE) == 0
  assert sorted(os.listdir(out / "alpaca_eval")) == ["alpaca_eval_instructions_es.json",
                                                     "alpaca_eval_instructions_zh.json"]
  spanish = datasets.read_examples("alpaca_eval", str(out), "es", "test")
  assert [(e["id"], e["inputs"]) for e in spanish] == [
      ("alpaca_eval_es_test:1", "¿Cómo obtuvieron los estados de EE. UU. sus nombres?"),
      ("alpaca_eval_es_test:2", 'He leído el libro "Los doce Césares" de Suetonio varias veces.'),
      ("alpaca_eval_es_test:3", 'Quiero hablar sobre "Smooth", una canción de Rob Thomas.')]
  chinese = datasets.read_examples("alpaca_eval", str(out), "zh", "test")
  assert chinese[0]["inputs"] == "有哪些著名演员是从百老汇开始他们的职业生涯的？"
  # The official English list is still a JSON list, read as published.
  _write(out / "alpaca_eval" / "alpaca_eval.json", json.dumps(
      [{"instruction": "How did US states get their names?", "output": "...",
        "dataset": "helpful_base"}]))
  assert datasets.read_examples("alpaca_eval", str(out), "en", "test")[0]["inputs"] == (
      "How did US states get their names?")


def test_a_broken_alpaca_eval_line_keeps_the_positions_parallel(tmp_path):
  _write(tmp_path / "alpaca_eval" / "alpaca_eval_instructions_de.json",
         '{"instruction": "\\"Wer ist Larry Page?\\""}\n{"instruction": \n'
         '{"instruction": "Was ist Atlantis?"}\n')
  lenient = datasets.ReadPolicy(max_malformed_fraction=0.5)
  examples = datasets.read_examples("alpaca_eval", str(tmp_path), "de", "test", lenient)
  assert [(e["id"], e["inputs"]) for e in examples] == [
      ("alpaca_eval_de_test:1", "Wer ist Larry Page?"),
      ("alpaca_eval_de_test:3", "Was ist Atlantis?")]
  with pytest.raises(DataFormatError, match=r"instructions_de.json:2: not a UTF-8 JSON line"):
    datasets.read_examples("alpaca_eval", str(tmp_path), "de", "test")


# XLSum on the Hub: data/<lower-case name>_XLSum_v2.0.tar.bz2 holding ./<name>_<split>.jsonl.


def _xlsum_archive(path, name):
  with tarfile.open(path, "w:bz2") as archive:
    for split in ("train", "val", "test"):
      data = "".join(json.dumps({"id": f"{name}-{split}-{n}", "url": "https://www.bbc.com/mundo/x",
                                 "title": "t", "summary": f"{split} summary {n}",
                                 "text": f"{split} text {n}"}, ensure_ascii=False) + "\n"
                     for n in range(2)).encode()
      member = tarfile.TarInfo(f"./{name}_{split}.jsonl")
      member.size = len(data)
      archive.addfile(member, io.BytesIO(data))


def test_xlsum_downloads_the_lower_case_hub_archives(tmp_path):
  hub = tmp_path / "hub"
  hub.mkdir()
  for name in ("spanish", "chinese_simplified"):
    _xlsum_archive(hub / f"{name}_XLSum_v2.0.tar.bz2", name)
  requested = []

  def fake_hub_file(repo_id, filename, cache_dir):
    requested.append((repo_id, filename))
    local = hub / os.path.basename(filename)
    if not local.is_file():  # what hf_hub_download does for a name the repository lacks
      raise UserInputError(f"{repo_id} has no {filename}")
    return str(local)

  fetcher = Fetcher(str(tmp_path / "cache"), hub_file=fake_hub_file, url_file=_no_network)
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "xlsum", "--out", str(out), "--languages", "es,zh"],
                             fetcher=fetcher) == 0
  assert requested == [("csebuetnlp/xlsum", "data/spanish_XLSum_v2.0.tar.bz2"),
                       ("csebuetnlp/xlsum", "data/chinese_simplified_XLSum_v2.0.tar.bz2")]
  assert sorted(os.listdir(out / "xlsum")) == [
      "chinese_simplified_test.jsonl", "chinese_simplified_train.jsonl",
      "chinese_simplified_val.jsonl", "spanish_test.jsonl", "spanish_train.jsonl",
      "spanish_val.jsonl"]
  validation = datasets.read_examples("xlsum", str(out), "zh", "validation")
  assert [e["targets"] for e in validation] == ["val summary 0", "val summary 1"]


# X-CSQA as the X-CSR release has it: Japanese in jap/, no answerKey in test.


def _xcsqa_row(language, key=True):
  row = {"id": "be1920f7ba5454ad", "lang": language, "question": {
      "stem": "知識はどうなりますか？" if language == "jap" else "What happens to knowledge?",
      "choices": [{"label": label, "text": f"{label} text"} for label in "ABCDE"]},
         "answerKey": "D"}
  if not key:
    del row["answerKey"]  # "hidden for test data"
  return row


def test_xcsqa_japanese_is_read_from_the_release_jap_folder(tmp_path, capsys):
  release = tmp_path / "xcsr_datasets.zip"
  with zipfile.ZipFile(release, "w") as archive:
    for folder in ("en", "jap"):
      for split in ("dev", "test"):
        archive.writestr(f"X-CSR_datasets/X-CSQA/{folder}/{split}.jsonl",
                         _jsonl([_xcsqa_row(folder, key=split == "dev")]))
    archive.writestr("X-CSR_datasets/X-CSQA/en/train.jsonl", _jsonl([_xcsqa_row("en")]))
    archive.writestr("X-CSR_datasets/X-CODAH/jap/dev.jsonl", "{}\n")
  fetched = []
  fetcher = Fetcher("unused", hub_file=_no_network,
                    url_file=lambda url, cache_dir: fetched.append(url) or str(release))
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "xcsqa", "--out", str(out), "--languages", "en,ja"],
                             fetcher=fetcher) == 0
  assert fetched == ["https://inklab.usc.edu/XCSR/xcsr_datasets.zip"]
  assert sorted(os.listdir(out / "xcsqa")) == ["en", "jap"]
  assert sorted(os.listdir(out / "xcsqa" / "jap")) == ["dev.jsonl", "test.jsonl"]
  japanese = datasets.read_examples("xcsqa", str(out), "ja", "validation")[0]
  assert japanese["id"] == "xcsqa_ja_validation:be1920f7ba5454ad"
  assert japanese["inputs"].startswith("知識はどうなりますか？\nA. A text")
  assert japanese["answer"] == "D"
  test = datasets.read_examples("xcsqa", str(out), "ja", "test")[0]
  assert (test["targets"], test["answer"]) == ("", "")
  # The extracted folder works as --source too; a language the release lacks is named.
  with zipfile.ZipFile(release) as archive:
    archive.extractall(tmp_path / "extracted")
  source = str(tmp_path / "extracted" / "X-CSR_datasets")
  assert prepare_binary.main(["prepare", "xcsqa", "--out", str(tmp_path / "again"), "--source",
                              source, "--languages", "ja"], fetcher=OFFLINE) == 0
  assert (tmp_path / "again" / "xcsqa" / "jap" / "test.jsonl").is_file()
  assert prepare_binary.main(["prepare", "xcsqa", "--out", str(tmp_path / "again"), "--source",
                              source, "--languages", "de"], fetcher=OFFLINE) == 2
  assert "X-CSQA has no de/dev.jsonl (X-CSQA de)" in capsys.readouterr().err


# MGSM's exemplars as published: the Python module mgsm/exemplars.py.

EXEMPLAR_LABELS = {"en": ("Question: ", "Step-by-Step Answer: ", "The answer is {}."),
                   "zh": ("问题：", "逐步解答：", "答案是 {}。")}


def _python_string(text):
  """`text` as exemplars.py writes it: ASCII literals with \\u escapes, implicitly joined."""
  half = len(text) // 2
  return "\n                 ".join(json.dumps(part) for part in (text[:half], text[half:]))


def _write_exemplars_py(path, languages=("en", "zh")):
  lines = ['"""Prompts for mgsm."""', "# pylint: disable=line-too-long", "",
           "EXEMPLAR_NUMBER_ANSWERS = [11, 29, 39, 9, 33, 8, 8, 5]", "",
           "EXEMPLAR_EQUATION_SOLUTIONS = [", '    "5 + 6 = 11.",', "]", "",
           "MGSM_EXEMPLARS = {"]
  for language in languages:
    question, answer, conclusion = EXEMPLAR_LABELS[language]
    lines.append(f'    "{language}": {{')
    for number in range(1, 9):
      lines += [f'        "{number}": {{',
                f'            "q": {_python_string(f"{question}Roger has {number} balls.")},',
                f'            "a": {_python_string(answer + conclusion.format(number))}',
                "        },"]
    lines.append("    },")
  lines.append("}")
  _write(path, "\n".join(lines) + "\n")


def test_mgsm_prepare_reads_the_published_exemplars_py(tmp_path):
  source = tmp_path / "url-nlp" / "mgsm"
  _write_exemplars_py(source / "exemplars.py")
  for language in ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"):
    _write(source / f"mgsm_{language}.tsv", "Janet has 16 eggs. How many?\t18\n")
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "mgsm", "--out", str(out), "--source", str(source)],
                             fetcher=OFFLINE) == 0
  converted = json.loads((out / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
  assert sorted(converted) == ["EXEMPLAR_EQUATION_SOLUTIONS", "EXEMPLAR_NUMBER_ANSWERS",
                               "MGSM_EXEMPLARS"]
  assert converted["MGSM_EXEMPLARS"]["zh"]["1"] == {"q": "问题：Roger has 1 balls.",
                                                    "a": "逐步解答：答案是 1。"}
  prompt = datasets.read_examples("mgsm", str(out), "zh", "test")[0]["inputs"]
  assert prompt.startswith("问题：Roger has 1 balls.\n逐步解答：答案是 1。\n\n")
  assert prompt.endswith("问题：Janet has 16 eggs. How many?\n逐步解答：")


def test_mgsm_exemplars_py_is_parsed_never_run(tmp_path):
  marker = tmp_path / "executed"
  path = tmp_path / "exemplars.py"
  _write(path, f'MGSM_EXEMPLARS = __import__("pathlib").Path({str(marker)!r}).touch()\n')
  status = prepare_binary.main(["prepare", "mgsm_translated", "--out", str(tmp_path / "data"),
                                "--source", str(tmp_path), "--languages", "pt"], fetcher=OFFLINE)
  assert status == 2 and not marker.exists()
  with pytest.raises(DataFormatError, match=r"exemplars.py:1: MGSM_EXEMPLARS is not a literal"):
    mgsm.read_exemplars_py(str(path))
  _write(path, "EXEMPLAR_NUMBER_ANSWERS = [1]\n")
  with pytest.raises(DataFormatError, match="no top-level 'MGSM_EXEMPLARS"):
    mgsm.read_exemplars_py(str(path))


def test_mgsm_download_takes_the_exemplars_from_the_publisher(tmp_path):
  release = tmp_path / "release"
  _write_exemplars_py(release / "exemplars.py")
  for language in ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"):
    _write(release / f"mgsm_{language}.tsv", "Q?\t1\n")
  urls = []

  def fake_url_file(url, cache_dir):
    urls.append(url)
    return str(release / url.rsplit("/", 1)[1])

  fetcher = Fetcher("unused", hub_file=_no_network, url_file=fake_url_file)
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "mgsm", "--out", str(out)], fetcher=fetcher) == 0
  assert urls[-1] == ("https://raw.githubusercontent.com/google-research/url-nlp/main/mgsm/"
                      "exemplars.py")
  assert len(datasets.read_examples("mgsm", str(out), "en", "test")) == 1


# mCoT-MATH: `lang` in mcot_math.json, `lang-id` in the newer lang-id/mcot-math.json.


@pytest.mark.parametrize("release_file, field", [("mcot_math.json", "lang"),
                                                 ("lang-id/mcot-math.json", "lang-id")])
def test_mcot_math_accepts_lang_and_lang_id_records(tmp_path, release_file, field, capsys):
  records = [{"question": f"[{language}] Question {number}?",
              "answer": f"Step 1. The answer is: {number}", field: language}
             for number in range(3) for language in ("en", "sw", "zh")]
  release = tmp_path / release_file
  _write(release, json.dumps(records, ensure_ascii=False))
  out = tmp_path / "data"
  assert prepare_binary.main(["prepare", "mcot_math", "--out", str(out), "--source", str(release),
                              "--validation_fraction", "0"], fetcher=OFFLINE) == 0
  prepared = json.loads((out / "mcot_math" / "prepared.json").read_text())
  assert prepared["written"] == {"train/en": 3, "train/sw": 3, "train/zh": 3}
  assert prepared["malformed"] == 0 and "ja" in prepared["no_records"]
  swahili = datasets.read_examples("mcot_math", str(out), "sw", "train")
  assert [(e["inputs"], e["answer"]) for e in swahili] == [
      (f"[sw] Question {number}?", str(number)) for number in range(3)]
  # A language asked for by name and absent from the release fails, naming what it has.
  assert prepare_binary.main(["prepare", "mcot_math", "--out", str(tmp_path / "again"),
                              "--source", str(release), "--languages", "sw,ja"],
                             fetcher=OFFLINE) == 2
  error = capsys.readouterr().err.splitlines()[-1]
  assert error == (f"error: mcot_math: no records of ja in {release}; lang/lang-id/language"
                   " values seen: en (3), sw (3), zh (3)")
