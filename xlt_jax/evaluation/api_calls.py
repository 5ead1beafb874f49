"""API-call exact match (P4, mAPICall-Bank): the generated call is parsed and compared.

P4 (Dhaliwal et al., arXiv 2604.13286, Secs. 4.1-4.2) counts a generated call correct "only
if the API name, all argument names, and all corresponding argument values exactly
match the ground truth". The reference is the item's `answer` as the API-calling format
writes it (tasks/formats/api_calling.py): {"arguments": {...}, "name": "..."} as JSON.

A generated call is read in one of these forms (surrounding whitespace ignored):

- the training target's own syntax, `Name(key=value, ...)` with JSON values
  (`GetWeather(city="Paris", days=3)`), which is Python call syntax: it is parsed with
  `ast`, and a value may be any Python or JSON literal: a string, a number (with a sign),
  true / false / null or True / False / None, a list or tuple, or a dict with string keys,
  nested;
- API-Bank's syntax (Li et al., 2023, whose calls P4 translated): the same call in square
  brackets, optionally after "API-Request:" (`API-Request: [GetWeather(city='Paris')]`);
- the reference's JSON object, {"name": str, "arguments": {...}} and no other key.

When the whole output is none of these, its first non-blank line is tried. Anything
else is unparseable: a positional argument, `**kwargs`, a repeated argument or JSON key,
a name that is not an identifier, an expression as a value (`1 + 2`, a variable). An
unparseable output counts as wrong, and its share is reported on its own.

Two calls match when the names are equal and the arguments have the same names and equal
values: strings equal character for character, numbers equal in value (1 == 1.0), true /
false only equal to themselves (never to 1 / 0), lists element by element, dicts key by
key. A string never equals a number ("5" is not 5).

API-Bank's own evaluation (api_call_extraction.py, `parse_api_call`) reads only the
bracketed form with a regular expression that keeps every value as text; on its level-1
calls whose values are plain strings the two parsers agree (tests/test_api_call_metric.py),
and where they differ (a value holding a quote, a list, a number) this module follows
Python's and JSON's syntax instead of the regular expression.
"""

import ast
import dataclasses
import json
from collections.abc import Iterable

from xlt_jax.evaluation import prediction_files

SCORES = ("exact_match", "unparseable")
# Where a predictions file may hold an item's reference call (the first one present).
REFERENCE_FIELDS = ("answer", "reference")

_JSON_NAMES = {"true": True, "false": False, "null": None}
_API_BANK_PREFIX = "API-Request:"


@dataclasses.dataclass(frozen=True)
class Call:
  """One API call: the API's name and its arguments (JSON values)."""
  name: str
  arguments: dict


class _NotACall(Exception):
  """The text is not a call in any accepted form."""


def _literal(node: ast.expr):
  """The JSON value a literal expression denotes; raises _NotACall for anything else."""
  if isinstance(node, ast.Constant):
    if isinstance(node.value, (str, int, float, bool)) or node.value is None:
      return node.value
  elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
    operand = node.operand
    if (isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float))
        and not isinstance(operand.value, bool)):
      return -operand.value if isinstance(node.op, ast.USub) else operand.value
  elif isinstance(node, ast.Name) and node.id in _JSON_NAMES:
    return _JSON_NAMES[node.id]
  elif isinstance(node, (ast.List, ast.Tuple)):
    return [_literal(element) for element in node.elts]
  elif isinstance(node, ast.Dict):
    result = {}
    for key, value in zip(node.keys, node.values):
      if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or key.value in result:
        raise _NotACall
      result[key.value] = _literal(value)
    return result
  raise _NotACall


def _python_call(text: str) -> Call:
  try:
    tree = ast.parse(text, mode="eval")
  except (SyntaxError, ValueError):  # ValueError: a NUL character
    raise _NotACall from None
  call = tree.body
  if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.args:
    raise _NotACall
  arguments = {}
  for keyword in call.keywords:
    if keyword.arg is None or keyword.arg in arguments:  # **kwargs, or a repeated name
      raise _NotACall
    arguments[keyword.arg] = _literal(keyword.value)
  return Call(call.func.id, arguments)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
  result = dict(pairs)
  if len(result) != len(pairs):
    raise _NotACall
  return result


def _json_call(text: str) -> Call:
  try:
    value = json.loads(text, object_pairs_hook=_unique_keys)
  except (json.JSONDecodeError, RecursionError):
    raise _NotACall from None
  if (not isinstance(value, dict) or set(value) != {"name", "arguments"}
      or not isinstance(value["name"], str) or not value["name"].isidentifier()
      or not isinstance(value["arguments"], dict)):
    raise _NotACall
  return Call(value["name"], value["arguments"])


def _call(text: str) -> Call:
  text = text.strip()
  if text.startswith("{"):
    return _json_call(text)
  if text.startswith(_API_BANK_PREFIX):
    text = text[len(_API_BANK_PREFIX):].strip()
  if text.startswith("[") and text.endswith("]"):
    text = text[1:-1].strip()
  return _python_call(text)


def parse_call(text: str) -> Call | None:
  """The call `text` states, in any accepted form (module docstring), or None."""
  candidates = [text]
  lines = [line for line in text.splitlines() if line.strip()]
  if lines and lines[0].strip() != text.strip():
    candidates.append(lines[0])
  for candidate in candidates:
    try:
      return _call(candidate)
    except (_NotACall, RecursionError):
      continue
  return None


def _same(a, b) -> bool:
  """JSON equality without Python's True == 1 (module docstring)."""
  if isinstance(a, bool) or isinstance(b, bool):
    return isinstance(a, bool) and isinstance(b, bool) and a == b
  if isinstance(a, (int, float)) or isinstance(b, (int, float)):
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b
  if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
    return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b)))
  if isinstance(a, dict) or isinstance(b, dict):
    return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
            and all(_same(a[key], b[key]) for key in a))
  return type(a) is type(b) and a == b  # str and None


def calls_match(predicted: Call, reference: Call) -> bool:
  """Same API name, same argument names, equal values (module docstring)."""
  return predicted.name == reference.name and _same(predicted.arguments, reference.arguments)


@dataclasses.dataclass(frozen=True)
class Example:
  """One scored item: its language, the model's output and the reference call."""
  language: str
  prediction: str
  reference: Call


def score_by_language(examples: Iterable[Example]) -> dict[str, dict[str, float]]:
  """Per language, in sorted order: the share of exact matches and of unparseable outputs.

  Returns:
    {language: {"exact_match": share, "unparseable": share}}, in 0-1.
  """
  def item(example: Example) -> dict[str, float]:
    predicted = parse_call(example.prediction)
    return {"exact_match": float(predicted is not None
                                 and calls_match(predicted, example.reference)),
            "unparseable": float(predicted is None)}

  return prediction_files.mean_by_language((example.language, item(example))
                                           for example in examples)


def score_file(path: str) -> dict[str, dict[str, float]]:
  """`score_by_language` of a predictions file.

  Each line needs `language`, `prediction` and the reference call in `answer` (or
  `reference`): a string in any accepted form, or the {"name", "arguments"} object itself.

  Raises:
    UserInputError: a missing file or the first bad line (including a reference that is
      not a call), named by file and line.
  """
  examples = []
  for line_number, row in prediction_files.read_numbered(path, ("language", "prediction")):
    field, value = prediction_files.value(path, line_number, row, REFERENCE_FIELDS)
    reference = (parse_call(value) if isinstance(value, str)
                 else parse_call(json.dumps(value)) if isinstance(value, dict) else None)
    if reference is None:
      raise prediction_files.line_error(
          path, line_number, f"field {field!r} is not an API call (expected e.g."
          ' {"name": "GetWeather", "arguments": {"city": "Paris"}} or GetWeather(city="Paris"))')
    examples.append(Example(row["language"], row["prediction"], reference))
  return score_by_language(examples)
