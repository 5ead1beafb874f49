"""The generated demo task: deterministic, disjoint splits, natural scripts, correct answers."""

import re

import pytest

from xlt_jax import demo_data as demo_data_binary
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.data.demo import DEMO_LANGUAGES, distinct_problem_count, generate_problems, write_demo_dataset
from xlt_jax.evaluation.mgsm_format import read_mgsm_tsv

SIZES = {"train": 200, "validation": 16, "test": 20}

# Words that say "take away" in each language's subtraction templates; every
# other problem adds.
SUBTRACTION_WORDS = {
    "en": ("gives", "takes"),
    "es": ("le da", "saca"),
    "fr": ("donne", "retire"),
    "pt": (" dá ", " tira "),
    "ja": ("あげました", "取り出しました"),
    "zh": ("送给", "拿走"),
    "ar": ("أعطى", "أخرج"),
    "ko": ("주었습니다", "꺼냈습니다"),
}

# Each non-Latin language is written in its own script and contains no Latin letter.
SCRIPTS = {
    "ja": re.compile(r"[\u3040-\u30ff]"),  # kana: Japanese, not just CJK ideographs
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ar": re.compile(r"[\u0621-\u064a]"),
    "ko": re.compile(r"[\uac00-\ud7a3]"),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  root = tmp_path_factory.mktemp("demo")
  return root, write_demo_dataset(str(root), SIZES)


def test_files_and_counts(dataset):
  root, written = dataset
  assert set(written) == {f"{split}/{language}" for split in SIZES for language in DEMO_LANGUAGES}
  for key, path in written.items():
    split, language = key.split("/")
    assert path == str(root / "demo_arith" / split / f"{language}.tsv")
    assert len(read_mgsm_tsv(path)) == SIZES[split]


def test_splits_of_a_language_are_disjoint(dataset):
  _, written = dataset
  for language in DEMO_LANGUAGES:
    questions = [row.question for split in SIZES
                 for row in read_mgsm_tsv(written[f"{split}/{language}"])]
    assert len(questions) == len(set(questions)) == sum(SIZES.values())


@pytest.mark.parametrize("language", DEMO_LANGUAGES)
def test_round_trip_through_the_mgsm_reader(dataset, language):
  _, written = dataset
  rows = [row for split in SIZES for row in read_mgsm_tsv(written[f"{split}/{language}"])]
  expected = generate_problems(language, sum(SIZES.values()), seed=0)
  assert [(row.question, int(row.answer)) for row in rows] == expected


@pytest.mark.parametrize("language", DEMO_LANGUAGES)
def test_answers_equal_the_arithmetic_the_words_describe(language):
  problems = generate_problems(language, 1000, seed=3)
  operations = set()
  for question, answer in problems:
    first, second = (int(number) for number in re.findall(r"\d+", question))
    assert 1 <= first <= 9 and 1 <= second <= 9, question
    subtracts = any(word in question for word in SUBTRACTION_WORDS[language])
    assert answer == (first - second if subtracts else first + second), question
    operations.add(subtracts)
  assert operations == {True, False}


@pytest.mark.parametrize("language", sorted(SCRIPTS))
def test_non_latin_languages_use_their_script(language):
  for question, _ in generate_problems(language, 300, seed=0):
    assert SCRIPTS[language].search(question), question
    assert not re.search(r"[A-Za-z]", question), question


def test_japanese_and_chinese_use_cjk_ideographs():
  for language in ("ja", "zh"):
    assert all(re.search(r"[\u4e00-\u9fff]", question)
               for question, _ in generate_problems(language, 100, seed=0))


def test_latin_nouns_agree_with_their_number():
  questions = [question for question, _ in demo_data._all_problems("en")]
  assert any(" 1 apple." in question for question in questions)
  assert not any(re.search(r"\b1 \w+s\b", question) for question in questions)
  assert not any(re.search(r"\b[2-9] (apple|pencil|book|cookie|sticker|marble)\b", question)
                 for question in questions)


@pytest.mark.parametrize("language", DEMO_LANGUAGES)
def test_thousands_of_distinct_problems(language):
  # 2 templates x 6 names x 6 items x (81 additions + 45 subtractions) per language.
  assert distinct_problem_count(language) == 2 * 6 * 6 * (81 + 45)


def test_generation_is_deterministic_and_nested():
  first = generate_problems("ja", 50, seed=7)
  assert first == generate_problems("ja", 50, seed=7)
  assert first != generate_problems("ja", 50, seed=8)
  assert generate_problems("ja", 80, seed=7)[:50] == first
  assert len({question for question, _ in generate_problems("en", 5000, seed=1)}) == 5000


def test_same_seed_writes_identical_bytes(tmp_path):
  sizes = {"train": 30, "validation": 4, "test": 5}
  first = write_demo_dataset(str(tmp_path / "a"), sizes, seed=5)
  second = write_demo_dataset(str(tmp_path / "b"), sizes, seed=5)
  other = write_demo_dataset(str(tmp_path / "c"), sizes, seed=6)
  for key in first:
    with open(first[key], "rb") as a, open(second[key], "rb") as b, open(other[key], "rb") as c:
      first_bytes = a.read()
      assert first_bytes == b.read()
      assert first_bytes != c.read()


def test_requests_beyond_the_templates_are_user_errors(tmp_path):
  too_many = distinct_problem_count("en") + 1
  with pytest.raises(UserInputError, match=f"{too_many - 1} distinct en problems"):
    write_demo_dataset(str(tmp_path), {"train": too_many - 10, "test": 10, "validation": 1},
                       languages=("en",))
  assert not (tmp_path / "demo_arith").exists()  # checked before anything is written
  with pytest.raises(UserInputError, match="'xx'"):
    write_demo_dataset(str(tmp_path), {"train": 1}, languages=("xx",))
  with pytest.raises(UserInputError, match="'train'"):
    write_demo_dataset(str(tmp_path), {"train": -1})
  with pytest.raises(UserInputError, match="'../x'"):
    write_demo_dataset(str(tmp_path), {"../x": 1})
  with pytest.raises(UserInputError, match="requested"):
    generate_problems("ko", too_many, seed=0)


def test_command_line(tmp_path, capsys):
  assert demo_data_binary.main([f"--out={tmp_path}", "--train=5", "--validation=2", "--test=3"]) == 0
  assert len(read_mgsm_tsv(str(tmp_path / "demo_arith" / "test" / "ar.tsv"))) == 3
  assert demo_data_binary.main([f"--out={tmp_path}", "--train=100000"]) == 2
  error = capsys.readouterr().err
  assert error.startswith("error: ") and error.count("\n") == 1


@pytest.mark.parametrize("language", [language for language in DEMO_LANGUAGES if language != "en"])
def test_parallel_questions_state_the_same_problem(language):
  answers = {question: answer for question, answer in demo_data._all_problems("en")}
  answers.update(demo_data._all_problems(language))
  excluded = frozenset(question for question, _ in generate_problems(language, 50, seed=0))
  pairs = demo_data.parallel_questions("en", language, 500, seed=1, exclude=excluded)
  assert len(set(pairs)) == 500 and pairs == demo_data.parallel_questions(
      "en", language, 500, seed=1, exclude=excluded)
  for english, other in pairs:
    assert other not in excluded
    # The same numbers in the same order, the same operation, hence the same answer.
    assert re.findall(r"\d+", english) == re.findall(r"\d+", other), (english, other)
    assert answers[english] == answers[other]
    assert (any(word in english for word in SUBTRACTION_WORDS["en"])
            == any(word in other for word in SUBTRACTION_WORDS[language]))
  with pytest.raises(UserInputError, match="parallel problems"):
    demo_data.parallel_questions("en", language, 9072, seed=1, exclude=excluded)
