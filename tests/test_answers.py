"""Answer sentences and MGSM-style answer extraction, checked against the official exemplars."""

import json

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers
from xlt_jax.evaluation.answers import (
  ANSWER_PREFIX_VARIANTS,
  ANSWER_PREFIXES,
  answer_sentence,
  answers_match,
  extract_number,
  normalize_number,
)

MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@pytest.fixture
def official(test_data):
  with open(test_data / "mgsm" / "exemplars.json", encoding="utf-8") as file:
    return json.load(file)


def test_prefixes_cover_mgsm_and_our_three_languages():
  assert set(ANSWER_PREFIXES) == set(MGSM_LANGUAGES) | {"ar", "ko", "pt"}


def test_module_opens_no_data_file():
  with open(answers.__file__, encoding="utf-8") as file:
    source = file.read()
  # The prefixes are hard-coded: answers.py opens no file (the test above checks them).
  assert "open(" not in source and "import json" not in source


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_prefixes_match_the_official_exemplars(official, language):
  shots = official["MGSM_EXEMPLARS"][language]
  accepted = (ANSWER_PREFIXES[language],) + ANSWER_PREFIX_VARIANTS.get(language, ())
  for exemplar_id in "12345678":
    # Every exemplar states its answer with one of the language's phrases...
    assert any(phrase in shots[exemplar_id]["a"] for phrase in accepted), exemplar_id
  # ...and the canonical phrase is the one most exemplars use.
  canonical_count = sum(ANSWER_PREFIXES[language] in shots[i]["a"] for i in "12345678")
  for variant in ANSWER_PREFIX_VARIANTS.get(language, ()):
    assert canonical_count > sum(variant in shots[i]["a"] for i in "12345678")


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_answer_sentence_is_how_most_exemplars_end(official, language):
  shots = official["MGSM_EXEMPLARS"][language]
  numbers = official["EXEMPLAR_NUMBER_ANSWERS"]
  endings = sum(shots[str(i + 1)]["a"].endswith(answer_sentence(language, numbers[i]))
                for i in range(8))
  assert endings >= 5, (language, answer_sentence(language, numbers[0]))


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_extraction_recovers_every_exemplar_answer(official, language):
  shots = official["MGSM_EXEMPLARS"][language]
  extracted = [extract_number(shots[i]["a"]) for i in "12345678"]
  assert extracted == [str(number) for number in official["EXEMPLAR_NUMBER_ANSWERS"]]


def test_answer_sentences():
  assert answer_sentence("en", 8) == "The answer is 8."
  assert answer_sentence("ja", 11) == "答えは11です。"
  assert answer_sentence("zh", "11") == "答案是 11。"
  assert answer_sentence("de", 3) == "Die Antwort lautet 3."
  assert answer_sentence("th", 5) == "คำตอบคือ 5"
  assert answer_sentence("ko", 5) == "답은 5입니다."
  assert answer_sentence("pt", "1,000") == "A resposta é 1000."
  assert answer_sentence("ar", 7) == "الإجابة هي 7."


@pytest.mark.parametrize("language", sorted(ANSWER_PREFIXES))
def test_every_answer_sentence_extracts_back(language):
  for number in (0, 7, 18, 1234, -3):
    assert extract_number("5 + 6 = 11. " + answer_sentence(language, number)) == str(number)


def test_answer_sentence_rejects_unknown_language_and_non_numbers():
  with pytest.raises(UserInputError, match="xx"):
    answer_sentence("xx", 1)
  with pytest.raises(UserInputError, match="twelve"):
    answer_sentence("en", "twelve")


@pytest.mark.parametrize("text, expected", [
    ("The answer is 1,000.", "1000"),
    ("She earns $1,234,567 a year.", "1234567"),
    ("The answer is 11.0", "11"),
    ("The answer is 2.50.", "2.5"),
    ("The answer is -5.", "-5"),
    ("The temperature fell to −3 degrees.", "-3"),
    ("74-35=39", "39"),  # a minus between digits subtracts
    ("20 - 12 = 8", "8"),
    ("答えは１２です。", "12"),
    ("合計は１，０００円", "1000"),
    ("الإجابة هي ٤٢.", "42"),  # Arabic-Indic digits
    ("no number here", None),
    ("", None),
    ("The answer is 42. Then 7 more steps follow, 9 of them.", "42"),
    ("The answer is 3. Wait, the answer is 4. So 5 people agree.", "4"),  # the LAST phrase
    ("the answer is 6, I think 7", "6"),  # any letter case
    ("5 + 6 = 11. The answer is eleven.", "11"),  # no number after the phrase
    ("I have 3 apples and 12, 5 pears", "5"),
    ("Roger has 5 balls. 3 + 2 = 5 in total, 2,5 left", "5"),
    ("Il a donc 23 - 15 = 8 dollars. La réponse est 8.", "8"),
    ("答案是 007。", "7"),
    ("The answer is 0.", "0"),
    ("The answer is -0.", "0"),
])
def test_extract_number(text, expected):
  assert extract_number(text) == expected


def test_extraction_prefers_any_languages_phrase():
  # A completion that drifts into another language still has its answer found.
  assert extract_number("5 + 6 = 11 und 3. Die Antwort ist 11. Extra 99") == "11"
  assert extract_number("민수는 3개. 정답은 14입니다. 그리고 2") == "14"


def test_normalize_number():
  assert normalize_number("1,000") == "1000"
  assert normalize_number("11.0") == "11"
  assert normalize_number("1.250") == "1.25"
  assert normalize_number("100") == "100"
  assert normalize_number("-0.0") == "0"
  with pytest.raises(UserInputError):
    normalize_number("1,00")


def test_answers_match_compares_numerically():
  assert answers_match("11", "11")
  assert answers_match("11.0", "11")
  assert answers_match("1000", "1,000")
  assert answers_match("-5", "-5.00")
  assert not answers_match("12", "11")
  assert not answers_match(None, "11")
  assert not answers_match("eleven", "11")
  with pytest.raises(UserInputError):
    answers_match("11", "not a number")
