"""Extractive-QA metrics (exact match, F1, include), checked against the reference scripts.

References, vendored in tests/data/reference_scripts/ (README there: sources, licences):
the official SQuAD v1.1 script (as HF `evaluate` ships it), SQuAD 2.0's script (whose
functions lm-evaluation-harness 0.4.13 scores XQuAD with), and lm-evaluation-harness's
copies of MLQA's script and of its own TyDi QA GoldP rule. MLQA's script itself is CC
BY-NC and not vendored; lm-evaluation-harness's copy differs from it only in the Arabic
article pattern, which the test restores to MLQA's line before comparing.

The items are real multilingual text (MGSM questions, Language Confusion Benchmark
completions, tests/data/) cut into answer-like spans, with references perturbed the way
answers differ: case, punctuation (ASCII and not), articles, spacing, overlapping spans.
"""

import csv
import importlib.util
import json
import pathlib
import random
import re
import subprocess
import sys
import types

import pytest

from xlt_jax import score as score_binary
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import qa_metrics, qa_normalisation, qa_postprocessing
from xlt_jax.evaluation.qa_metrics import Example

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO_ROOT / "tests" / "data"
REFERENCES = TEST_DATA / "reference_scripts"

MLQA_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")
# lm-evaluation-harness's TyDi QA GoldP languages but Arabic (its pattern is its own).
TYDI_LANGUAGES = ("bn", "en", "fi", "id", "ko", "ru", "sw", "te")
# Languages written without spaces between words: spans are cut by characters.
UNSPACED = ("ja", "th", "zh")
# Articles (and, for fr and it, words that are articles in neither script) put in front
# of a reference, so each rule's article list is exercised and its absence too.
ARTICLES = {
    "en": ("the", "a", "an", "The"), "es": ("el", "la", "los", "unas", "Un"),
    "de": ("der", "die", "das", "einem", "Des"), "vi": ("những", "của", "cái", "là"),
    "fr": ("le", "la", "les"), "it": ("il", "la"), "ar": ("ال",), "hi": ("एक",),
}
PUNCTUATION = (".", ",", "!", "?", "«", "»", "¿", "¡", "。", "，", "、", "「", "」", "'", "\"",
               "(", ")", "-", "—", "…", "؟", "।", "$", "%")


def _load(name: str, path: pathlib.Path, edit=lambda source: source) -> types.ModuleType:
  """A vendored script as a module, its source passed through `edit` first.

  lm-evaluation-harness's scripts import `datasets` only for type hints: where the library
  is not installed they get a stand-in.
  """
  module = types.ModuleType(name)
  module.__file__ = str(path)
  stand_in = None
  if "datasets" not in sys.modules and importlib.util.find_spec("datasets") is None:
    stand_in = sys.modules["datasets"] = types.SimpleNamespace(Dataset=object)
  try:
    exec(compile(edit(path.read_text(encoding="utf-8")), str(path), "exec"), module.__dict__)
  finally:
    if stand_in is not None:
      del sys.modules["datasets"]
  return module


@pytest.fixture(scope="module")
def squad_v1():
  return _load("squad_v1_1_reference", REFERENCES / "squad_v1.1" / "compute_score.py")


@pytest.fixture(scope="module")
def squad_v2():
  return _load("squad_v2_0_reference", REFERENCES / "squad_v2.0" / "evaluate-v2.0.py")


@pytest.fixture(scope="module")
def mlqa_reference():
  """lm-evaluation-harness's copy of MLQA's script with MLQA's own Arabic line put back."""
  harness_line = 'return re.sub(r"(?:^|\\s)ال", " ", text)'
  mlqa_line = "return re.sub(r'\\sال^|ال', ' ', text)"  # mlqa_evaluation_v1.py (there unraw)

  def restore(source: str) -> str:
    assert source.count(harness_line) == 1
    return source.replace(harness_line, mlqa_line)

  return _load("mlqa_reference", REFERENCES / "lm_eval" / "tasks" / "mlqa" / "utils.py", restore)


@pytest.fixture(scope="module")
def tydiqa_reference():
  return _load("tydiqa_reference", REFERENCES / "lm_eval" / "tasks" / "tydiqa" / "utils.py")


def _texts(test_data) -> dict[str, list[str]]:
  """Real text per language: MGSM questions and LCB completions."""
  texts: dict[str, list[str]] = {}
  for path in sorted((test_data / "mgsm").glob("mgsm_*.tsv")):
    language = path.stem.split("_")[1]
    with open(path, encoding="utf-8") as file:
      texts.setdefault(language, []).extend(line.split("\t")[0] for line in list(file)[:12])
  with open(test_data / "language_confusion" / "outputs" / "command-r.csv",
            encoding="utf-8", newline="") as file:
    for row in csv.DictReader(file):
      if len(texts.setdefault(row["language"], [])) < 24 and row["completion"].strip():
        texts[row["language"]].append(row["completion"])
  return texts


def _span(rng: random.Random, text: str, language: str) -> str:
  if language in UNSPACED:
    start = rng.randrange(max(1, len(text) - 12))
    return text[start:start + rng.randint(1, 12)]
  words = text.split()
  start = rng.randrange(max(1, len(words) - 6))
  return " ".join(words[start:start + rng.randint(1, 6)])


def _variant(rng: random.Random, span: str, language: str) -> str:
  """`span` as another annotator or a model might write it."""
  choice = rng.randrange(7)
  if choice == 0:
    return span.upper() if rng.random() < 0.5 else span.lower()
  if choice == 1:
    return rng.choice(PUNCTUATION) + span + rng.choice(PUNCTUATION)
  if choice == 2:
    article = rng.choice(ARTICLES.get(language, ("the",)))
    return article + span if article == "ال" else f"{article} {span}"
  if choice == 3:
    return "  " + span.replace(" ", rng.choice(["  ", "\t", "\u00a0", " \n "])) + " "
  if choice == 4:
    cut = rng.randint(0, len(span))
    return span[:cut] + rng.choice(PUNCTUATION) + span[cut:]
  if choice == 5:
    return rng.choice(["", " ", ".", "the"]) if rng.random() < 0.3 else span + span[:3]
  return span


def _items(test_data, seed: int = 0) -> dict[str, list[tuple[str, list[str]]]]:
  """Per language, (prediction, references) pairs built from real text."""
  rng = random.Random(seed)
  items = {}
  for language, texts in _texts(test_data).items():
    pairs = []
    for text in texts:
      for _ in range(6):
        span = _span(rng, text, language)
        other = _span(rng, rng.choice(texts), language)
        prediction = rng.choice([span, _variant(rng, span, language), other,
                                 f"{_span(rng, text, language)} {span}"])
        references = [_variant(rng, span, language) for _ in range(rng.randint(1, 3))]
        pairs.append((prediction, references))
    items[language] = pairs
  return items


@pytest.fixture(scope="module")
def items():
  return _items(TEST_DATA)


def test_the_items_cover_many_languages_and_every_kind_of_outcome(items):
  assert len(items) == 19 and all(len(pairs) >= 60 for pairs in items.values())
  scores = [qa_metrics.score(prediction, references, qa_normalisation.squad)
            for pairs in items.values() for prediction, references in pairs]
  assert sum(score["exact_match"] for score in scores) > 0.2 * len(scores)
  assert sum(0 < score["f1"] < 1 for score in scores) > 0.1 * len(scores)
  assert sum(score["f1"] == 0 for score in scores) > 0.05 * len(scores)


def test_squad_normalisation_equals_the_official_v1_1_script(squad_v1, items):
  compared = 0
  for pairs in items.values():
    for prediction, references in pairs:
      assert qa_normalisation.squad(prediction) == squad_v1.normalize_answer(prediction)
      ours = qa_metrics.score(prediction, references, qa_normalisation.squad)
      assert ours["exact_match"] == squad_v1.metric_max_over_ground_truths(
          squad_v1.exact_match_score, prediction, references), (prediction, references)
      assert ours["f1"] == squad_v1.metric_max_over_ground_truths(
          squad_v1.f1_score, prediction, references), (prediction, references)
      compared += 1
  assert compared > 1500


def test_squad_scores_equal_squad_2_0s_except_f1_of_empty_answers(squad_v2, items):
  """lm-evaluation-harness 0.4.13 scores XQuAD with SQuAD 2.0's compute_exact/compute_f1
  (via transformers) on the first answer: the same but for F1 when a side normalises to
  nothing, where 2.0 gives 1 if both do (v1.1 and we: 0)."""
  empty_cases = 0
  for pairs in items.values():
    for prediction, references in pairs:
      reference = references[0]
      ours = qa_metrics.score(prediction, [reference], qa_normalisation.squad)
      assert ours["exact_match"] == squad_v2.compute_exact(reference, prediction)
      if qa_normalisation.squad(prediction) and qa_normalisation.squad(reference):
        assert ours["f1"] == squad_v2.compute_f1(reference, prediction)
      else:
        empty_cases += 1
        both_empty = not (qa_normalisation.squad(prediction) or qa_normalisation.squad(reference))
        assert squad_v2.compute_f1(reference, prediction) == int(both_empty)
        assert ours["f1"] == 0
  assert empty_cases > 0


@pytest.mark.parametrize("language", MLQA_LANGUAGES)
def test_mlqa_normalisation_equals_mlqas_script(mlqa_reference, items, language):
  assert len(items[language]) >= 60
  for prediction, references in items[language]:
    assert qa_normalisation.mlqa(prediction, language) == mlqa_reference.normalize_answer(
        prediction, language), prediction
    ours = qa_metrics.score(prediction, references,
                            qa_normalisation.normaliser("mlqa", language))
    assert ours["exact_match"] == mlqa_reference.metric_max_over_ground_truths(
        mlqa_reference.exact_match_score, prediction, references, language)
    assert ours["f1"] == mlqa_reference.metric_max_over_ground_truths(
        mlqa_reference.f1_score, prediction, references, language)


def test_lm_evaluation_harness_copy_of_mlqa_differs_from_mlqa_in_arabic_only(items):
  """The harness removes ال only at the start of a word; MLQA (and we) everywhere."""
  harness = _load("mlqa_harness", REFERENCES / "lm_eval" / "tasks" / "mlqa" / "utils.py")
  for language in MLQA_LANGUAGES:
    differing = sum(harness.normalize_answer(prediction, language)
                    != qa_normalisation.mlqa(prediction, language)
                    for prediction, _ in items[language])
    assert (differing > 0) == (language == "ar"), language
  assert harness.normalize_answer("مالك", "ar") == "مالك"


@pytest.mark.parametrize("language", TYDI_LANGUAGES)
def test_mlqa_rule_for_tydi_languages_equals_lm_evaluation_harness_tydiqa(
    tydiqa_reference, items, language):
  """Our extension of MLQA's rule (no articles, whitespace tokens) is what the harness's
  TyDi QA GoldP task does for these languages."""
  for prediction, references in items.get(language, items["en"]):  # no Finnish text: English
    ours = qa_metrics.score(prediction, references,
                            qa_normalisation.normaliser("mlqa", language))
    assert ours["exact_match"] == tydiqa_reference.metric_max_over_ground_truths(
        tydiqa_reference.exact_match_score, prediction, references, language)
    assert ours["f1"] == tydiqa_reference.metric_max_over_ground_truths(
        tydiqa_reference.f1_score, prediction, references, language)


def test_mlqa_and_squad_differ_where_the_rules_say(items):
  differing = {language for language, pairs in items.items() for prediction, _ in pairs
               if qa_normalisation.mlqa(prediction, language) != qa_normalisation.squad(prediction)}
  assert {"zh", "ja", "es", "de", "ar", "ru"} <= differing


# Hand-derived cases, one per rule.

@pytest.mark.parametrize("text,expected", [
    ("The Rhine", "rhine"),                   # lower-case, article removed
    ("  a   cat\tand\u00a0an owl ", "cat and owl"),  # articles, all whitespace collapsed
    ("theater anthem", "theater anthem"),     # articles only as whole words
    ("U.S.A.!", "usa"),                       # ASCII punctuation deleted, no space left
    ("«París», ¿sí?", "«parís» ¿sí"),         # non-ASCII punctuation stays
    ("北京，中国。", "北京，中国。"),             # so does CJK punctuation; no segmentation
    ("the", ""),
    ("$5 + 3%", "5 3"),                       # ASCII symbols are string.punctuation
])
def test_squad_rule_by_hand(text, expected):
  assert qa_normalisation.squad(text) == expected


@pytest.mark.parametrize("text,language,expected", [
    ("«París», ¿sí?", "es", "parís sí"),      # Unicode punctuation deleted
    ("La casa de los Pérez", "es", "casa de pérez"),
    ("The house", "es", "the house"),         # English articles only in English
    ("Der Rhein und die Mosel", "de", "rhein und mosel"),
    ("những con mèo", "vi", "con mèo"),
    ("الكتاب", "ar", "كتاب"),
    ("مالك", "ar", "م ك"),                     # MLQA removes ال inside words too
    ("北京，中国。", "zh", "北 京 中 国"),        # one token per Han character
    ("东京 tower", "zh", "东 京 tower"),
    ("東京タワー", "ja", "東 京 タワー"),        # ja like zh (our extension); kana stay a run
    ("«Москва» — столица", "ru", "москва столица"),  # other languages: no articles
    ("the cat", "ru", "the cat"),
    ("एक किताब।", "hi", "एक किताब"),           # Hindi: no articles, danda deleted
    ("$5 + 3%", "en", "5 3"),                 # ASCII symbols count as punctuation in MLQA too
])
def test_mlqa_rule_by_hand(text, language, expected):
  assert qa_normalisation.mlqa(text, language) == expected


def test_strict_rule_keeps_everything_but_surrounding_whitespace():
  assert qa_normalisation.strict("  El Rin.\n") == "El Rin."
  normalise = qa_normalisation.strict
  assert qa_metrics.exact_match(" El Rin ", "El Rin", normalise)
  assert not qa_metrics.exact_match("el Rin", "El Rin", normalise)
  assert not qa_metrics.exact_match("El Rin.", "El Rin", normalise)
  assert qa_metrics.include("Creo que es el río El Rin.", "El Rin", normalise)
  assert not qa_metrics.include("Creo que es el río el rin.", "El Rin", normalise)


def test_f1_counts_common_tokens_with_their_multiplicity():
  squad = qa_normalisation.squad
  assert qa_metrics.f1("the cat sat", "A cat sat on the mat", squad) == pytest.approx(2 / 3)
  assert qa_metrics.f1("cat cat", "cat", squad) == pytest.approx(2 * 0.5 * 1 / 1.5)
  assert qa_metrics.f1("dog", "cat", squad) == 0.0
  assert qa_metrics.f1("the", "a", squad) == 0.0  # both empty: 0, as SQuAD v1.1
  assert qa_metrics.exact_match("the", "a", squad)  # ...while they match exactly


def test_include_needs_the_whole_normalised_reference_inside_the_prediction():
  squad = qa_normalisation.squad
  assert qa_metrics.include("The answer is: Paris, France.", "paris", squad)
  assert qa_metrics.include("1950s", "1950", squad)  # a substring, not a token match
  assert not qa_metrics.include("Paris", "Paris, France", squad)
  assert not qa_metrics.include("something", "the", squad)  # empty reference: only ""
  assert qa_metrics.include("a", "the", squad)


def test_scores_take_the_best_reference_for_each_score_separately():
  scores = qa_metrics.score("Rhine river", ["the Rhine", "Rhine river basin"],
                            qa_normalisation.squad)
  assert scores == {"exact_match": 0.0, "f1": pytest.approx(0.8), "include": 1.0}
  with pytest.raises(ValueError):
    qa_metrics.score("x", [], qa_normalisation.squad)


@pytest.mark.parametrize("prediction,question,expected", [
    (" Der Rhein", "Wie heißt der Fluss?", "Der Rhein"),
    (" Wie heißt der Fluss? Der Rhein\nDer Rhein ist ein Fluss.", "Wie heißt der Fluss? ",
     "Der Rhein"),                                        # echoed question, then line 1
    ("Как называется река? Рейн", "Как называется река?", "Рейн"),
    ("\n\nRhein\nmore", "Q?", "Rhein"),                   # leading blank lines dropped
    ("x" * 60 + "\nmore", "Q?", "x" * 50),                # 50 characters come first
    ("Rhein\r\nmore", "Q?", "Rhein"),                     # CR is a line break too
    ("鲁尔河" * 20, "问题？", ("鲁尔河" * 20)[:50]),          # characters, not bytes
    ("Rhein", "", "Rhein"),
])
def test_p3_postprocessing_by_hand(prediction, question, expected):
  assert qa_postprocessing.p3(prediction, question) == expected


def test_p3_postprocessing_is_applied_before_scoring():
  example = Example("de", " Wie heißt der Fluss? Der Rhein\nDer Rhein ist lang.", ("Rhein",),
                    "Wie heißt der Fluss?")
  plain = qa_metrics.score_by_language([example], "mlqa")["de"]
  cleaned = qa_metrics.score_by_language([example], "mlqa", "p3")["de"]
  assert plain["exact_match"] == 0 and cleaned["exact_match"] == 1
  with pytest.raises(ValueError, match="question"):
    qa_metrics.score_by_language([Example("de", "x", ("y",))], "squad", "p3")


def _write_jsonl(path: pathlib.Path, rows: list) -> str:
  path.write_text("".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
                          + "\n" for row in rows), encoding="utf-8")
  return str(path)


def test_score_file_reads_every_reference_field_form(tmp_path):
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "en", "prediction": "Rhine", "reference": "the Rhine"},
      {"language": "en", "prediction": "Rhine", "answer": ["Rhein", "Rhine"]},
      {"language": "en", "prediction": "Rhine",
       "answers": {"text": ["Rhine"], "answer_start": [3]}},
      {"language": "en", "prediction": "Rhine", "answers": [{"text": "Rhine", "answer_start": 3}]},
      {"language": "zh", "prediction": "莱茵河", "answers": ["莱茵"]},
  ])
  scores = qa_metrics.score_file(path)
  assert scores["en"] == {"exact_match": 1.0, "f1": 1.0, "include": 1.0}
  assert scores["zh"] == {"exact_match": 0.0, "f1": 0.0, "include": 1.0}
  assert qa_metrics.score_file(path, "mlqa")["zh"]["f1"] == pytest.approx(0.8)


@pytest.mark.parametrize("row,message", [
    ({"language": "en", "prediction": "a"},
     r":1: missing field 'reference' or 'answer' or 'answers'"),
    ({"language": "en", "prediction": "a", "answers": []}, r":1: field 'answers' must be"),
    ({"language": "en", "prediction": "a", "reference": 3}, r":1: field 'reference' must be"),
    ({"language": "", "prediction": "a", "reference": "b"}, r":1: field 'language' is empty"),
])
def test_score_file_names_file_and_line_of_a_bad_item(tmp_path, row, message):
  path = _write_jsonl(tmp_path / "predictions.jsonl", [row])
  with pytest.raises(UserInputError, match=re.escape(str(path)) + message):
    qa_metrics.score_file(path)


def test_score_file_asks_for_the_question_only_with_p3(tmp_path):
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "de", "prediction": "Rhein", "reference": "Rhein"},
      {"language": "de", "prediction": "Rhein", "reference": "Rhein"}])
  assert qa_metrics.score_file(path)["de"]["exact_match"] == 1
  with pytest.raises(UserInputError, match=r":1: missing field 'question'"):
    qa_metrics.score_file(path, postprocessing="p3")


def _run_binary(*arguments: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "xlt_jax.score", *arguments], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=300)


def test_binary_prints_the_scores_per_language_as_json(tmp_path, items):
  rows = [{"language": language, "prediction": prediction, "answers": references,
           "question": "Frage?"}
          for language in ("de", "zh", "es") for prediction, references in items[language][:20]]
  path = _write_jsonl(tmp_path / "predictions.jsonl", rows)
  result = _run_binary("qa", path, "--json", "--normalisation", "mlqa", "--postprocess", "p3")
  assert result.returncode == 0, result.stderr
  printed = json.loads(result.stdout)
  expected = qa_metrics.score_by_language(
      (Example(row["language"], row["prediction"], tuple(row["answers"]), row["question"])
       for row in rows), "mlqa", "p3")
  assert list(printed) == ["de", "es", "zh"] and printed == expected
  assert all(0 <= value <= 1 for scores in printed.values() for value in scores.values())


def test_binary_names_file_and_line_of_bad_input_and_exits_2(tmp_path):
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "es", "prediction": "a", "reference": "b"},
      {"language": "es", "prediction": "a", "answers": [1, 2]}])
  result = _run_binary("qa", path)
  assert result.returncode == 2 and result.stdout == ""
  (line,) = result.stderr.splitlines()
  assert line.startswith(f"error: {path}:2: field 'answers' must be"), line


def test_main_prints_a_table_and_the_help_names_the_papers(tmp_path, capsys):
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "es", "prediction": "el río Rin", "answers": ["Rin", "el Rin"]}])
  assert score_binary.main(["qa", path, "--normalisation", "strict"]) == 0
  assert capsys.readouterr().out.splitlines() == [
      "language\texact_match\tf1\tinclude", "es\t0.0000\t0.8000\t1.0000"]
  with pytest.raises(SystemExit):
    score_binary.main(["qa", "--help"])
  help_text = capsys.readouterr().out
  assert "P2" in help_text and "P3" in help_text
  assert "example: python -m xlt_jax.score qa" in help_text
