"""API-call exact match (P4), checked against API-Bank's own parser on API-Bank's calls.

The reference is API-Bank's `parse_api_call` (tests/data/reference_scripts/api_bank/,
Apache-2.0), which its evaluator applies to a generated `[ApiName(key='value', ...)]`.
The calls are every API step of API-Bank's level-1 dialogues
(tests/data/api_bank/level-1-given-desc.api_calls.jsonl), written the way API-Bank's
evaluator writes them, as they are and with their values replaced by real multilingual
text (MGSM questions), since P4 translates argument values.
"""

import ast
import json
import pathlib
import random
import re
import subprocess
import sys

import pytest

from tasks.formats import api_calling, rows
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import api_calls
from xlt_jax.evaluation.api_calls import Call, Example, calls_match, parse_call

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def api_bank():
  """API-Bank's api_call_extraction.py as a module."""
  namespace: dict = {}
  path = TEST_DATA / "reference_scripts" / "api_bank" / "api_call_extraction.py"
  exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
  return namespace


@pytest.fixture(scope="module")
def level1_calls() -> list[Call]:
  path = TEST_DATA / "api_bank" / "level-1-given-desc.api_calls.jsonl"
  with open(path, encoding="utf-8") as file:
    return [Call(row["api_name"], row["param_dict"]) for row in map(json.loads, file)]


def _api_bank_text(call: Call) -> str:
  """A call as API-Bank's evaluator.py writes one (values in single quotes, unescaped)."""
  return "API-Request: [{}({})]".format(
      call.name, ", ".join("{}='{}'".format(key, value) for key, value in call.arguments.items()))


def _plain(call: Call) -> bool:
  """Values API-Bank's formatting writes as valid Python: non-empty, without quotes."""
  return all(isinstance(value, str) and value and "'" not in value and '"' not in value
             and "\\" not in value for value in call.arguments.values())


def _multilingual(calls: list[Call]) -> list[Call]:
  """The calls with every value replaced by a span of a real MGSM question."""
  rng = random.Random(0)
  texts = []
  for path in sorted((TEST_DATA / "mgsm").glob("mgsm_*.tsv")):
    with open(path, encoding="utf-8") as file:
      texts += [line.split("\t")[0] for line in list(file)[:20]]
  texts = [text for text in texts if "'" not in text and '"' not in text and "\\" not in text]
  result = []
  for call in calls:
    arguments = {}
    for key in call.arguments:
      text = rng.choice(texts)
      start = rng.randrange(len(text) - 1)
      arguments[key] = text[start:start + rng.randint(1, 40)].strip() or text[:5]
    result.append(Call(call.name, arguments))
  return result


def test_level1_calls_are_api_banks_389_with_string_values(level1_calls):
  assert len(level1_calls) == 389
  assert len({call.name for call in level1_calls}) > 40
  assert all(isinstance(value, str) for call in level1_calls for value in call.arguments.values())


def test_our_parser_equals_api_banks_on_its_plain_calls(api_bank, level1_calls):
  plain = [call for call in level1_calls if _plain(call)]
  assert len(plain) >= 350
  for call in plain + _multilingual(plain):
    text = _api_bank_text(call)
    name, arguments = api_bank["parse_api_call"](text)
    assert parse_call(text) == Call(name, arguments) == call, text


def test_where_api_banks_formatting_is_not_python_its_parser_misreads_and_ours_refuses(
    api_bank, level1_calls):
  """List arguments ("['John', 'Jane']") written inside single quotes: API-Bank reads the
  value as "[", we read no call; written as a call should be, we read the list."""
  quoted = [call for call in level1_calls if not _plain(call)]
  assert len(quoted) >= 20
  for call in quoted:
    text = _api_bank_text(call)
    _, arguments = api_bank["parse_api_call"](text)
    assert arguments != call.arguments
    if "['" in text:
      assert parse_call(text) is None, text
  attendees = next(call for call in quoted if call.arguments.get("attendees", "").startswith("['"))
  written = "[{}(attendees={})]".format(attendees.name, attendees.arguments["attendees"])
  names = ast.literal_eval(attendees.arguments["attendees"])
  assert parse_call(written).arguments == {"attendees": names}


def _perturbed(rng: random.Random, call: Call) -> Call:
  """`call` with one mistake a model makes, or unchanged."""
  arguments = dict(call.arguments)
  keys = sorted(arguments)
  choice = rng.randrange(6)
  if choice == 0 and keys:
    key = rng.choice(keys)
    arguments[key] = arguments[key] + rng.choice(["s", " ", "."])
  elif choice == 1 and keys:
    del arguments[rng.choice(keys)]
  elif choice == 2:
    arguments["extra"] = "x"
  elif choice == 3:
    return Call(call.name + "s", arguments)
  elif choice == 4 and len(keys) > 1:
    first, second = rng.sample(keys, 2)
    arguments[first], arguments[second] = arguments[second], arguments[first]
  return Call(call.name, arguments)


def test_exact_match_decisions_equal_api_banks_on_perturbed_calls(api_bank, level1_calls):
  """P4's rule applied to API-Bank's parse (name and every argument equal) decides like
  ours, on every level-1 call and a perturbed copy, in English and multilingual."""
  rng = random.Random(1)
  plain = [call for call in level1_calls if _plain(call)]
  decisions = []
  for reference in plain + _multilingual(plain):
    for predicted in (reference, _perturbed(rng, reference), _perturbed(rng, reference)):
      if not _plain(predicted):
        continue
      text = _api_bank_text(predicted)
      name, arguments = api_bank["parse_api_call"](text)
      expected = name == reference.name and arguments == reference.arguments
      assert calls_match(parse_call(text), reference) == expected, (text, reference)
      decisions.append(expected)
  assert len(decisions) > 1500 and 0.3 < sum(decisions) / len(decisions) < 0.8


def test_the_api_calling_tasks_target_and_answer_parse_to_the_same_call(tmp_path, level1_calls):
  """The formats module's training target and answer (what the eval binary writes as
  `answer`) are both read back as the call, so a model that writes the target scores 1."""
  source = tmp_path / "api_calling" / "test" / "es.jsonl"
  source.parent.mkdir(parents=True)
  with open(source, "w", encoding="utf-8") as file:
    for index, call in enumerate(level1_calls[:60] + [
        Call("SetThermostat", {"room": "salón", "celsius": -2.5, "eco": True, "days": [1, 2],
                               "schedule": {"on": "07:00", "off": None}})]):
      file.write(json.dumps({
          "id": str(index), "utterance": "¿Puedes hacerlo?",
          "apis": [{"name": call.name, "description": "", "parameters": {}}],
          "target": {"name": call.name, "arguments": call.arguments}}, ensure_ascii=False) + "\n")
  loaded = api_calling.load(str(tmp_path), "es", "test", rows.ReadPolicy())
  assert len(loaded.examples) == 61
  for example in loaded.examples:
    reference = parse_call(example["answer"])
    assert reference is not None and parse_call(example["targets"]) == reference
    assert calls_match(parse_call(example["targets"]), reference)
  last = parse_call(loaded.examples[-1]["targets"])
  assert last.arguments == {"celsius": -2.5, "days": [1, 2], "eco": True, "room": "salón",
                            "schedule": {"off": None, "on": "07:00"}}


# Hand-derived cases.

WEATHER = Call("GetWeather", {"city": "París", "days": 3})


@pytest.mark.parametrize("text", [
    'GetWeather(city="París", days=3)',                  # the dataset's target syntax
    "GetWeather(days=3, city='París')",                  # argument order is free
    "  GetWeather( city = 'París' ,days=3 )\n",
    "[GetWeather(city='París', days=3)]",                # API-Bank's
    "API-Request: [GetWeather(city='París', days=3)]",
    '{"name": "GetWeather", "arguments": {"city": "París", "days": 3}}',  # the answer's JSON
    '{"arguments": {"days": 3, "city": "París"}, "name": "GetWeather"}',
    'GetWeather(city="París", days=3)\nEl tiempo en París será soleado.',  # first line
    '\n\nGetWeather(city="París", days=3)\n\nThe call above.',
    'GetWeather(city="Par\\u00eds", days=3.0)',           # escapes; 3.0 == 3
])
def test_accepted_forms_parse_to_the_same_call(text):
  assert calls_match(parse_call(text), WEATHER), text


@pytest.mark.parametrize("text,arguments", [
    ("Set(on=true, off=false, level=null)", {"on": True, "off": False, "level": None}),
    ("Set(on=True, off=False, level=None)", {"on": True, "off": False, "level": None}),
    ("Set(offset=-2, scale=+1.5)", {"offset": -2, "scale": 1.5}),
    ("Set(items=[1, 'dos', [3]], pair=(1, 2))", {"items": [1, "dos", [3]], "pair": [1, 2]}),
    ('Set(config={"a": {"b": [true, null]}})', {"config": {"a": {"b": [True, None]}}}),
    ("Set()", {}),
])
def test_literal_values_of_python_and_json(text, arguments):
  assert parse_call(text) == Call("Set", arguments)


@pytest.mark.parametrize("text", [
    "", "   ", "I cannot call an API for that.",
    'GetWeather("París")',                               # positional argument
    "GetWeather(**{'city': 'París'})",
    "GetWeather(city='París', city='Roma')",             # repeated argument
    '{"name": "GetWeather", "arguments": {"city": "a", "city": "b"}}',  # repeated key
    '{"name": "GetWeather", "arguments": {}, "id": 1}',  # another key
    '{"name": "Get Weather", "arguments": {}}',          # not an identifier
    '{"name": "GetWeather", "arguments": []}',
    "api.GetWeather(city='París')",                      # not a plain name
    "GetWeather(city=París)",                            # a variable, not a literal
    "GetWeather(days=1 + 2)",                            # an expression
    "GetWeather(days=-True)",
    "GetWeather(data=b'x')",
    "GetWeather(config={1: 'a'})",                       # a dict key that is not a string
    "GetWeather(city='París'",                           # unclosed
    "GetWeather(city='París')(days=3)",
    "[GetWeather(city='París'), GetWeather(city='Roma')]",  # two calls
    "Sure! GetWeather(city='París')",                    # prose first
])
def test_unparseable_outputs(text):
  assert parse_call(text) is None


@pytest.mark.parametrize("predicted,matches", [
    (Call("GetWeather", {"city": "París", "days": 3}), True),
    (Call("GetWeather", {"city": "París", "days": 3.0}), True),   # same number
    (Call("getweather", {"city": "París", "days": 3}), False),    # name case counts
    (Call("GetWeather", {"city": "Paris", "days": 3}), False),    # accents count
    (Call("GetWeather", {"city": "París ", "days": 3}), False),   # spaces count
    (Call("GetWeather", {"city": "París", "days": "3"}), False),  # a string is not a number
    (Call("GetWeather", {"city": "París"}), False),               # missing argument
    (Call("GetWeather", {"city": "París", "days": 3, "unit": "C"}), False),  # extra one
    (Call("GetWeather", {"town": "París", "days": 3}), False),    # argument name
])
def test_exact_match_needs_name_argument_names_and_values(predicted, matches):
  assert calls_match(predicted, WEATHER) == matches


def test_booleans_never_equal_numbers_and_lists_keep_their_order():
  assert not calls_match(Call("F", {"x": True}), Call("F", {"x": 1}))
  assert not calls_match(Call("F", {"x": 0}), Call("F", {"x": False}))
  assert not calls_match(Call("F", {"x": None}), Call("F", {"x": "null"}))
  assert not calls_match(Call("F", {"x": [1, 2]}), Call("F", {"x": [2, 1]}))
  assert calls_match(Call("F", {"x": {"a": 1, "b": [True]}}),
                     Call("F", {"x": {"b": [True], "a": 1}}))
  assert not calls_match(Call("F", {"x": {"a": 1}}), Call("F", {"x": {"a": 1, "b": 2}}))


def test_score_by_language_counts_unparseable_outputs_apart_from_wrong_ones():
  reference = WEATHER
  scores = api_calls.score_by_language([
      Example("es", 'GetWeather(city="París", days=3)', reference),
      Example("es", 'GetWeather(city="Roma", days=3)', reference),
      Example("es", "No sé.", reference),
      Example("es", "GetWeather(city=", reference),
      Example("bn", 'GetWeather(city="París", days=3)', reference),
  ])
  assert scores == {"bn": {"exact_match": 1.0, "unparseable": 0.0},
                    "es": {"exact_match": 0.25, "unparseable": 0.5}}


def _write_jsonl(path: pathlib.Path, rows_: list) -> str:
  path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows_),
                  encoding="utf-8")
  return str(path)


def _run_binary(*arguments: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "xlt_jax.score", *arguments], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=300)


def test_binary_scores_a_predictions_file_as_json(tmp_path):
  answer = json.dumps({"arguments": {"city": "París", "days": 3}, "name": "GetWeather"},
                      ensure_ascii=False, sort_keys=True)
  path = _write_jsonl(tmp_path / "predictions.jsonl", [
      {"language": "es", "prediction": 'GetWeather(city="París", days=3)', "answer": answer},
      {"language": "es", "prediction": "[GetWeather(city='Roma', days=3)]", "answer": answer},
      {"language": "ja", "prediction": "わかりません", "answer": answer},
      {"language": "ja", "prediction": "GetWeather(days=3, city='París')",
       "reference": {"name": "GetWeather", "arguments": {"city": "París", "days": 3}}},
  ])
  result = _run_binary("api_call", path, "--json")
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout) == {"es": {"exact_match": 0.5, "unparseable": 0.0},
                                       "ja": {"exact_match": 0.5, "unparseable": 0.5}}


@pytest.mark.parametrize("row,message", [
    ({"language": "es", "prediction": "F()"}, ":2: missing field 'answer' or 'reference'"),
    ({"language": "es", "prediction": "F()", "answer": "no call"},
     ":2: field 'answer' is not an API call"),
    ({"language": "es", "prediction": "F()", "answer": 7}, ":2: field 'answer' is not an API call"),
    ({"language": "es", "answer": "F()"}, ":2: missing field 'prediction'"),
])
def test_bad_input_names_file_and_line(tmp_path, row, message):
  path = _write_jsonl(tmp_path / "predictions.jsonl",
                      [{"language": "es", "prediction": "F()", "answer": "F()"}, row])
  with pytest.raises(UserInputError, match=re.escape(path + message)):
    api_calls.score_file(path)


def test_binary_bad_input_is_one_error_line_and_exit_2(tmp_path):
  path = _write_jsonl(tmp_path / "predictions.jsonl",
                      [{"language": "es", "prediction": "F()", "answer": "nonsense"}])
  result = _run_binary("api_call", path)
  assert result.returncode == 2 and result.stdout == ""
  (line,) = result.stderr.splitlines()
  assert line.startswith(f"error: {path}:1: field 'answer' is not an API call"), line
