"""XL-Sum's multilingual ROUGE (xlt_jax/evaluation/rouge.py) against the reference itself.

The reference is XL-Sum's scorer as published on PyPI (`multilingual-rouge`, the [test]
extra), run on real multilingual text: Language Confusion Benchmark completions (each
paired with another model's completion of the same prompt) and MGSM questions (each
paired with the next) for the languages LCB lacks. The reference downloads two things at
run time, which the tests hand it from local copies instead, so that it runs offline:
NLTK's stopword list (its stemmers need it; we give it the copies the scorer ships) and
the full UniDic (its Japanese tagger; we point its tagger at unidic-lite, the dictionary
the scorer uses). Its Bengali stemmer's rules file is missing from the PyPI package; we
give it the rules the scorer transcribed.
"""

import collections
import csv
import hashlib
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, TEST_DATA

from tasks.catalogue import P0_SEEN, P0_UNSEEN
from tasks.formats import xlsum
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import bengali_stemmer, rouge, rouge_stemmers

TOLERANCE = 1e-6
PAIRS_PER_LANGUAGE = 40
LCB_LANGUAGES = ("ar", "en", "es", "fr", "hi", "ja", "ko", "pt", "ru", "tr", "zh")
MGSM_LANGUAGES = ("bn", "sw", "te", "th")  # XLSum languages that LCB lacks
# The stemmer-less languages: their scores cannot change with stemming.
NOT_STEMMED = ("ja", "ko", "sw", "te", "th", "zh")


def _lcb_pairs(test_data: pathlib.Path) -> dict[str, list[tuple[str, str]]]:
  """Per language: (completion, another model's completion of the same LCB prompt)."""
  csv.field_size_limit(sys.maxsize)
  completions = collections.defaultdict(list)
  for path in sorted((test_data / "language_confusion" / "outputs").glob("*.csv")):
    with open(path, encoding="utf-8", newline="") as file:
      for row in csv.DictReader(file):
        key = (row["language"], row["task"], row["source"], row["id"])
        completions[key].append(row["completion"])
  pairs = collections.defaultdict(list)
  for key in sorted(completions):
    texts = completions[key]
    pairs[key[0]].extend(zip(texts, texts[1:]))
  return {language: found[:PAIRS_PER_LANGUAGE] for language, found in pairs.items()}


def _mgsm_pairs(test_data: pathlib.Path, language: str) -> list[tuple[str, str]]:
  """(question, next question) from the MGSM test set of a language."""
  path = test_data / "mgsm" / f"mgsm_{language}.tsv"
  questions = [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()]
  return list(zip(questions, questions[1:]))[:PAIRS_PER_LANGUAGE]


@pytest.fixture(name="pairs", scope="module")
def fixture_pairs() -> dict[str, list[tuple[str, str]]]:
  found = _lcb_pairs(TEST_DATA)
  found.update({language: _mgsm_pairs(TEST_DATA, language) for language in MGSM_LANGUAGES})
  return found


@pytest.fixture(name="stopwords_dir", scope="session")
def fixture_stopwords_dir(tmp_path_factory) -> pathlib.Path:
  """An NLTK data directory holding the stopword lists the scorer ships."""
  root = tmp_path_factory.mktemp("nltk_data")
  (root / "corpora" / "stopwords").mkdir(parents=True)
  for name in os.listdir(rouge_stemmers.STOPWORDS_DIR):
    source = pathlib.Path(rouge_stemmers.STOPWORDS_DIR) / name
    (root / "corpora" / "stopwords" / name).write_bytes(source.read_bytes())
  return root


def _rules_file_text() -> str:
  """bengali_stemmer.RULES in the syntax of the original `common.rules`."""
  groups = []
  for group in bengali_stemmer.RULES:
    lines = [suffix + (f"->{replacement}" if replacement else "") for suffix, replacement in group]
    groups.append("{\n" + "\n".join(lines) + "\n}")
  return "\n\n".join(groups) + "\n"


@pytest.fixture(name="reference")
def fixture_reference(monkeypatch, stopwords_dir):
  """Builds the reference scorer for one of our language codes, offline (module docstring)."""
  reference = pytest.importorskip(
      "multilingual_rouge.rouge_scorer",
      reason="the reference, XL-Sum's multilingual-rouge (the [test] extra), is not installed")
  import fugashi
  import multilingual_rouge.bengali_stemmer
  import nltk
  import unidic_lite

  monkeypatch.setattr(nltk.data, "path", [str(stopwords_dir), *nltk.data.path])

  class UnidicLiteTagger(fugashi.Tagger):
    def __init__(self, arg=""):
      mecabrc = os.path.join(unidic_lite.DICDIR, "mecabrc")
      super().__init__(f'{arg} -d "{unidic_lite.DICDIR}" -r "{mecabrc}"')

  monkeypatch.setattr(fugashi, "Tagger", UnidicLiteTagger)
  base = multilingual_rouge.bengali_stemmer.RafiStemmer

  class TranscribedRulesStemmer(base):
    def __init__(self):
      super().__init__(io.StringIO(_rules_file_text()))

  monkeypatch.setattr(multilingual_rouge.bengali_stemmer, "RafiStemmer", TranscribedRulesStemmer)

  def build(language: str, use_stemmer: bool):
    return reference.RougeScorer(list(rouge.ROUGE_TYPES), lang=rouge.LANGUAGES[language],
                                 use_stemmer=use_stemmer)

  return build


def _compare(reference_scorer, pairs, language: str, use_stemmer: bool) -> list[dict]:
  """Our scores of each pair, after checking each against the reference's."""
  ours = []
  for prediction, target in pairs:
    expected = reference_scorer.score(target, prediction)
    got = rouge.score(prediction, target, language, use_stemmer)
    for rouge_type in rouge.ROUGE_TYPES:
      assert got[rouge_type] == pytest.approx(expected[rouge_type].fmeasure, abs=TOLERANCE), (
          language, rouge_type, prediction[:80], target[:80])
    ours.append(got)
  return ours


def test_every_xlsum_and_p0_language_is_scored_under_xlsums_name():
  assert set(xlsum.LANGUAGES) | {"en", *P0_SEEN, *P0_UNSEEN} <= set(rouge.LANGUAGES)
  for language, name in xlsum.XLSUM_NAMES.items():
    # The reference maps "chinese_simplified" to its "chinese" itself.
    assert rouge.LANGUAGES[language] == ("chinese" if name == "chinese_simplified" else name)


@pytest.mark.parametrize("language", sorted(rouge.LANGUAGES))
def test_equals_the_reference_without_stemming(reference, pairs, language):
  scores = _compare(reference(language, use_stemmer=False), pairs[language], language, False)
  assert len(scores) >= 20
  assert any(0 < score["rouge1"] < 1 for score in scores)  # the texts overlap, not fully


@pytest.mark.parametrize("language", sorted(rouge_stemmers.STEMMING_LANGUAGES))
def test_stemming_equals_the_references_stemmers(reference, pairs, language):
  stemmed = _compare(reference(language, use_stemmer=True), pairs[language], language, True)
  unstemmed = [rouge.score(prediction, target, language, use_stemmer=False)
               for prediction, target in pairs[language]]
  assert stemmed != unstemmed  # stemming did something on this text


@pytest.mark.parametrize("language", NOT_STEMMED)
def test_stemming_leaves_languages_without_a_stemmer_alone(pairs, language):
  for prediction, _ in pairs[language][:5]:
    assert rouge.tokenize(prediction, language) == rouge.tokenize(prediction, language, False)


def test_bengali_stems_equal_the_reference_stemmer_word_by_word(reference, test_data):
  from multilingual_rouge.bengali_stemmer import RafiStemmer

  reference("bn", use_stemmer=True)  # installs the transcribed rules
  words = sorted({token for question, _ in _mgsm_pairs(test_data, "bn")
                  for token in rouge.tokenize(question, "bn", use_stemmer=False)})
  expected = RafiStemmer()
  assert [bengali_stemmer.stem(word) for word in words] == [
      expected.stem_word(word) for word in words]
  assert sum(bengali_stemmer.stem(word) != word for word in words) >= 10


@pytest.mark.parametrize("language,text", [
    ("zh", "我爱北京天安门。今天天气很好，我们去公园散步吧！"),
    ("ja", "今日は良い天気ですね。東京タワーへ行きました。"),
    ("ar", "يوجد سوء فهم شائع حول استخدام الذكاء الاصطناعي."),
    ("ko", "안녕하세요, 저는 2024년에 서울로 이사했습니다."),
    ("th", "เป็ดของเจเน็ตวางไข่วันละ 16 ฟอง เธอกินไข่สามฟองเป็นมื้อเช้าทุกวัน"),
    ("hi", "लड़कियों ने बाज़ार में खाना खाया।"),
    ("bn", "আমি বাংলায় গান গাইতে ভালোবাসি।"),
])
def test_identical_non_latin_strings_score_one(language, text):
  from rouge_score import tokenizers

  assert rouge.score(text, text, language) == dict.fromkeys(rouge.ROUGE_TYPES, 1.0)
  assert len(rouge.tokenize(text, language)) >= 4
  # What this module is for: plain rouge-score keeps only the ASCII digits of these texts.
  assert tokenizers.DefaultTokenizer().tokenize(text) == re.findall(r"[0-9]+", text)


def test_japanese_segmentation_splits_a_sentence_into_words():
  sentence = "私は昨日、友達と一緒に新しいレストランで晩ご飯を食べました。"
  tokens = rouge.tokenize(sentence, "ja")
  assert len(tokens) >= 8
  assert "".join(tokens) == "私は昨日友達と一緒に新しいレストランで晩ご飯を食べました"
  assert {"友達", "レストラン", "食べ"} <= set(tokens)


def test_chinese_and_thai_keep_the_segmenters_space_tokens_as_the_reference_does():
  assert rouge.tokenize("今天 天气很好", "zh") == ["今天", " ", "天气", "很", "好"]
  assert " " in rouge.tokenize("สวัสดีครับ ผมชื่อ", "th")


def test_normalisation_drops_punctuation_and_format_characters_and_splits_digits():
  assert rouge.tokenize("Hello,  WORLD!! 123abc", "en", use_stemmer=False) == [
      "hello", "world", "123", "abc"]
  assert rouge.tokenize("a\u200db\u00adc\tdef", "sw") == ["abc", "def"]
  assert rouge.tokenize("2024년에 서울로", "ko") == ["2024", "년에", "서울로"]
  assert rouge.tokenize("", "en") == [] and rouge.tokenize("!?…", "zh") == []


def test_english_stemming_is_snowballs_and_spares_nltk_stopwords():
  assert rouge.tokenize("The cats were running quickly", "en") == [
      "the", "cat", "were", "run", "quick"]
  # "having" and "doing" are NLTK stopwords (Snowball alone gives "have", "do").
  assert rouge.tokenize("having doing walking", "en") == ["having", "doing", "walk"]
  stemmed = rouge.score("the cat runs", "The cats were running", "en")
  unstemmed = rouge.score("the cat runs", "The cats were running", "en", use_stemmer=False)
  assert stemmed["rouge1"] > unstemmed["rouge1"]


def test_shipped_stopword_lists_are_nltks_files():
  readme = (pathlib.Path(rouge_stemmers.STOPWORDS_DIR) / "README.md").read_text()
  listed = dict(re.findall(r"\| `(\w+)` \| `([0-9a-f]{64})` \|", readme))
  assert set(listed) == set(rouge_stemmers.SNOWBALL_LANGUAGES.values())
  for name, digest in listed.items():
    data = (pathlib.Path(rouge_stemmers.STOPWORDS_DIR) / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest, name
  assert len(rouge_stemmers.read_stopwords("english")) == 179


def test_score_by_language_averages_per_language_in_sorted_order():
  examples = [rouge.Example("es", "el gato duerme", "el gato duerme en casa"),
              rouge.Example("en", "a b", "a b"),
              rouge.Example("es", "nada", "el perro come")]
  scores = rouge.score_by_language(examples)
  assert list(scores) == ["en", "es"]
  assert scores["en"] == dict.fromkeys(rouge.ROUGE_TYPES, 1.0)
  assert scores["es"]["rouge1"] == pytest.approx((0.75 + 0.0) / 2)
  with pytest.raises(UserInputError, match="unknown ROUGE language code 'xx'"):
    rouge.score_by_language([rouge.Example("xx", "a", "b")])


def _run_binary(*arguments: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "xlt_jax.score", *arguments], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=300)


def _write_jsonl(path: pathlib.Path, rows: list) -> str:
  path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n"
                          for row in rows), encoding="utf-8")
  return str(path)


def test_binary_prints_mean_f_measures_per_language_as_json(tmp_path, pairs):
  rows = [{"language": language, "prediction": prediction, "reference": target, "id": index}
          for language in ("zh", "ar", "en") for index, (prediction, target)
          in enumerate(pairs[language][:3])]
  path = _write_jsonl(tmp_path / "predictions.jsonl", rows)
  result = _run_binary("rouge", path, "--json")
  assert result.returncode == 0, result.stderr
  printed = json.loads(result.stdout)
  expected = rouge.score_by_language(
      rouge.Example(row["language"], row["prediction"], row["reference"]) for row in rows)
  assert list(printed) == ["ar", "en", "zh"]
  for language, scores in expected.items():
    assert printed[language] == pytest.approx(scores, abs=1e-12)
    assert all(0 <= value <= 1 for value in printed[language].values())



def test_binary_main_turns_stemming_off_and_prints_a_table(tmp_path, capsys):
  from xlt_jax import score

  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "en", "prediction": "the cat runs", "reference": "The cats were running"},
      {"language": "zh", "prediction": "今天天气很好", "reference": "今天 天气 很好"}])
  assert score.main(["rouge", path, "--json"]) == 0
  stemmed = json.loads(capsys.readouterr().out)
  assert score.main(["rouge", path, "--json", "--no_stemmer"]) == 0
  unstemmed = json.loads(capsys.readouterr().out)
  assert unstemmed["en"]["rouge1"] < stemmed["en"]["rouge1"] and unstemmed["zh"] == stemmed["zh"]
  assert score.main(["rouge", path]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert [line.split("\t") for line in lines] == [
      ["language", "rouge1", "rouge2", "rougeL"],
      ["en", *(f"{stemmed['en'][name]:.4f}" for name in rouge.ROUGE_TYPES)],
      ["zh", *(f"{stemmed['zh'][name]:.4f}" for name in rouge.ROUGE_TYPES)]]


@pytest.mark.parametrize("rows,message", [
    (None, r"nowhere\.jsonl: no such predictions file"),
    ([{"language": "es", "prediction": "a", "reference": "b"},
      {"language": "es", "prediction": "a"}],
     r"predictions\.jsonl:2: missing field 'reference'"),
    ([{"language": "xx", "prediction": "a", "reference": "b"}],
     r"predictions\.jsonl:1: unknown language 'xx'"),
    (["{not json"], r"predictions\.jsonl:1: not JSON"),
    ([{"language": "es", "prediction": None, "reference": "b"}],
     r"predictions\.jsonl:1: field 'prediction' is NoneType, not a string"),
    ([], r"predictions\.jsonl: no predictions"),
])
def test_binary_names_file_and_line_of_bad_input_and_exits_2(tmp_path, rows, message):
  path = (str(tmp_path / "nowhere.jsonl") if rows is None
          else _write_jsonl(tmp_path / "predictions.jsonl", rows))
  result = _run_binary("rouge", path, "--json")
  assert result.returncode == 2, result.stderr
  assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
  assert result.stderr.startswith("error: ") and re.search(message, result.stderr), result.stderr


def test_binary_help_shows_an_example_and_the_metrics():
  result = _run_binary("--help")
  assert result.returncode == 0
  assert "rouge" in result.stdout and "example:" in result.stdout
  assert "python -m xlt_jax.score rouge predictions.jsonl --json" in result.stdout
  result = _run_binary("rouge", "--help")
  assert result.returncode == 0 and "--no_stemmer" in result.stdout
