"""The official MGSM TSVs and exemplars, read through the real loader, and malformed files."""

import json

import pytest

from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.evaluation.answers import extract_number
from xlt_jax.evaluation.mgsm_format import (
  MgsmRow,
  exemplar_labels,
  few_shot_prompt,
  read_exemplars,
  read_mgsm_tsv,
)

MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


@pytest.fixture
def exemplars(test_data):
  return read_exemplars(str(test_data / "mgsm" / "exemplars.json"))


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_every_official_tsv_loads_completely(test_data, language):
  rows = read_mgsm_tsv(str(test_data / "mgsm" / f"mgsm_{language}.tsv"))
  assert len(rows) == 250
  assert [row.line_number for row in rows] == list(range(1, 251))
  for row in rows:
    assert row.question and row.answer.lstrip("-").replace(".", "", 1).isdigit(), row


def test_known_rows(test_data):
  rows = read_mgsm_tsv(str(test_data / "mgsm" / "mgsm_en.tsv"))
  assert rows[2].line_number == 3 and rows[2].answer == "70000"
  assert rows[2].question.startswith("Josh decides to try flipping a house.")
  assert rows[0] == MgsmRow(1, rows[0].question, "18")
  # Thousands commas in the official answers ("114,200") are normalised away.
  assert not any("," in row.answer for row in rows)
  assert "114200" in {row.answer for row in rows}


def test_the_same_answers_in_every_language(test_data):
  english = [row.answer for row in read_mgsm_tsv(str(test_data / "mgsm" / "mgsm_en.tsv"))]
  for language in MGSM_LANGUAGES:
    rows = read_mgsm_tsv(str(test_data / "mgsm" / f"mgsm_{language}.tsv"))
    assert [row.answer for row in rows] == english, language


def test_exemplars_load_in_order(exemplars, test_data):
  assert set(exemplars) == set(MGSM_LANGUAGES)
  with open(test_data / "mgsm" / "exemplars.json", encoding="utf-8") as file:
    raw = json.load(file)["MGSM_EXEMPLARS"]
  for language in MGSM_LANGUAGES:
    assert exemplars[language] == [(raw[language][i]["q"], raw[language][i]["a"])
                                   for i in "12345678"]


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_exemplar_answers_extract_to_the_official_numbers(exemplars, test_data, language):
  with open(test_data / "mgsm" / "exemplars.json", encoding="utf-8") as file:
    numbers = json.load(file)["EXEMPLAR_NUMBER_ANSWERS"]
  assert [extract_number(answer) for _, answer in exemplars[language]] == [
      str(number) for number in numbers]


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_every_exemplar_carries_the_languages_labels(exemplars, language):
  question_label, answer_label = exemplar_labels(exemplars[language])
  assert question_label.rstrip(":：").strip() and answer_label.rstrip(":：").strip()
  for question, answer in exemplars[language]:
    assert question.startswith(question_label) and answer.startswith(answer_label)


def test_labels_of_latin_and_cjk_languages(exemplars):
  assert exemplar_labels(exemplars["en"]) == ("Question:", "Step-by-Step Answer:")
  assert exemplar_labels(exemplars["fr"]) == ("Question :", "Réponse étape par étape :")
  assert exemplar_labels(exemplars["ja"]) == ("問題：", "ステップごとの答え：")
  assert exemplar_labels(exemplars["zh"]) == ("问题：", "逐步解答：")


@pytest.mark.parametrize("language, test_question_line", [
    ("en", "Question: How many legs do 3 cats have?"),
    ("fr", "Question : How many legs do 3 cats have?"),
    ("ja", "問題：How many legs do 3 cats have?"),
    ("zh", "问题：How many legs do 3 cats have?"),
])
def test_eight_shot_prompt(exemplars, language, test_question_line):
  shots = exemplars[language]
  prompt = few_shot_prompt(shots, "How many legs do 3 cats have?")
  assert prompt.startswith(shots[0][0] + "\n" + shots[0][1] + "\n\n")
  position = 0
  for question, answer in shots:  # all 8, in order
    position = prompt.index(f"{question}\n{answer}\n\n", position) + 1
  answer_label = exemplar_labels(shots)[1]
  assert prompt.endswith(f"\n\n{test_question_line}\n{answer_label}")
  assert prompt == "\n\n".join(f"{q}\n{a}" for q, a in shots) + (
      f"\n\n{test_question_line}\n{answer_label}")


@pytest.mark.parametrize("language", MGSM_LANGUAGES)
def test_prompt_for_every_language_ends_with_its_labels(exemplars, test_data, language):
  question = read_mgsm_tsv(str(test_data / "mgsm" / f"mgsm_{language}.tsv"))[0].question
  prompt = few_shot_prompt(exemplars[language], question)
  question_label, answer_label = exemplar_labels(exemplars[language])
  last_block = prompt.split("\n\n")[-1]
  assert last_block.startswith(question_label) and question in last_block
  assert last_block.endswith("\n" + answer_label)
  assert prompt.count("\n\n") == 8


def test_prompt_rejects_no_exemplars_or_empty_question(exemplars):
  with pytest.raises(UserInputError, match="exemplar"):
    few_shot_prompt([], "How many?")
  with pytest.raises(UserInputError, match="question"):
    few_shot_prompt(exemplars["en"], "  ")
  with pytest.raises(DataFormatError, match="label"):
    few_shot_prompt([("no label here", "Answer: 3")], "How many?")


def test_malformed_tsv_names_file_and_line(tmp_path):
  path = tmp_path / "bad.tsv"
  path.write_text("What is 1 + 1?\t2\nWhat is 2 + 2?\t4\textra\n", encoding="utf-8")
  with pytest.raises(DataFormatError, match=r"found 3") as error:
    read_mgsm_tsv(str(path))
  assert str(path) in str(error.value) and ":2:" in str(error.value)

  path.write_text("What is 1 + 1?\t2\nWhat is 2 + 2?\t4\nWhat is 3 + 3?\tsix\n", encoding="utf-8")
  with pytest.raises(DataFormatError, match="not a number") as error:
    read_mgsm_tsv(str(path))
  assert str(path) in str(error.value) and ":3:" in str(error.value)


@pytest.mark.parametrize("content, line, message", [
    ("\t4\n", 1, "empty question"),
    ("What?\n", 1, "found 1"),
    ("What?\t1,00\n", 1, "not a number"),
    ("What?\t\n", 1, "not a number"),
    ("A?\t1\n\nB?\t2\n", 2, "blank line"),
])
def test_other_malformed_rows(tmp_path, content, line, message):
  path = tmp_path / "bad.tsv"
  path.write_text(content, encoding="utf-8")
  with pytest.raises(DataFormatError, match=message) as error:
    read_mgsm_tsv(str(path))
  assert f"{path}:{line}:" in str(error.value)
  assert "\n" not in str(error.value)


def test_invalid_utf8_names_the_line(tmp_path):
  path = tmp_path / "bad.tsv"
  path.write_bytes(b"A?\t1\nB\xff?\t2\n")
  with pytest.raises(DataFormatError, match=f"{path}:2: not valid UTF-8"):
    read_mgsm_tsv(str(path))


def test_well_formed_tsv_edge_cases(tmp_path):
  path = tmp_path / "ok.tsv"
  path.write_text("\ufeffA?\t1,234\r\n B? \t-2.50\r\n\n\n", encoding="utf-8")
  assert read_mgsm_tsv(str(path)) == [MgsmRow(1, "A?", "1234"), MgsmRow(2, "B?", "-2.5")]
  path.write_text("", encoding="utf-8")
  assert read_mgsm_tsv(str(path)) == []


def test_missing_files_are_user_errors(tmp_path):
  with pytest.raises(UserInputError, match="nothere.tsv"):
    read_mgsm_tsv(str(tmp_path / "nothere.tsv"))
  with pytest.raises(UserInputError, match="nothere.json"):
    read_exemplars(str(tmp_path / "nothere.json"))


def _exemplar_file(tmp_path, content) -> str:
  path = tmp_path / "exemplars.json"
  path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
  return str(path)


def test_malformed_exemplar_files(tmp_path):
  complete = {str(i): {"q": f"Question: q{i}", "a": f"Answer: a{i}"} for i in range(1, 9)}
  with pytest.raises(DataFormatError, match="not valid JSON"):
    read_exemplars(_exemplar_file(tmp_path, "{not json"))
  with pytest.raises(DataFormatError, match="MGSM_EXEMPLARS"):
    read_exemplars(_exemplar_file(tmp_path, {"exemplars": {}}))
  missing_five = {key: value for key, value in complete.items() if key != "5"}
  with pytest.raises(DataFormatError, match=r"MGSM_EXEMPLARS\['en'\] has no exemplar '5'"):
    read_exemplars(_exemplar_file(tmp_path, {"MGSM_EXEMPLARS": {"en": missing_five}}))
  no_answer = dict(complete, **{"3": {"q": "Question: q3"}})
  with pytest.raises(DataFormatError, match=r"\['3'\] has no non-empty string 'a'"):
    read_exemplars(_exemplar_file(tmp_path, {"MGSM_EXEMPLARS": {"en": no_answer}}))


def test_missing_language_is_a_readable_error(tmp_path):
  complete = {str(i): {"q": f"Question: q{i}", "a": f"Answer: a{i}"} for i in range(1, 9)}
  path = _exemplar_file(tmp_path, {"MGSM_EXEMPLARS": {"en": complete}})
  exemplars = read_exemplars(path)
  assert len(exemplars["en"]) == 8 and "de" not in exemplars
  with pytest.raises(DataFormatError, match=f"{path}: no exemplars for language 'de'; it has en"):
    exemplars["de"]
