"""Numeric answers in the style of MGSM: the sentence that states an answer, and extraction.

Training targets end with a localised answer sentence ("The answer is 8.",
"答えは8です。"); evaluation pulls the number back out of a completion with
`extract_number` and compares it with the reference using `answers_match`.
Chain-of-thought prompting styles (`mgsm_prompts`: P2's 5-shot, P4's trigger phrases) are
scored as lm-evaluation-harness scores its MGSM CoT tasks: `final_number` (the
`flexible-extract` filter) and `exact_token_match` (its `exact_match` metric).
"""

import decimal
import re
import string
import unicodedata

from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import check_language

# The phrase that introduces the final answer, copied from the official MGSM
# exemplars (exemplars.json, whose chain-of-thought answers end with e.g.
# "The answer is 11."). Hard-coded so that nothing reads the shared data at run
# time; tests/test_answers.py checks them against the exemplars.
ANSWER_PREFIXES: dict[str, str] = {
    "bn": "উত্তর হল",
    "de": "Die Antwort lautet",  # 7 of the 8 German exemplars; exemplar 1 says "ist".
    "en": "The answer is",
    "es": "La respuesta es",
    "fr": "La réponse est",
    "ja": "答えは",
    "ru": "Ответ —",
    "sw": "Jibu ni",
    "te": "సమాధానం",
    "th": "คำตอบคือ",
    "zh": "答案是",
    # MGSM has no Arabic, Korean or Portuguese: these three phrases are ours.
    "ar": "الإجابة هي",
    "ko": "답은",
    "pt": "A resposta é",
}

# Other phrasings the official exemplars use for the same language. Extraction
# accepts them; training targets always use ANSWER_PREFIXES.
ANSWER_PREFIX_VARIANTS: dict[str, tuple[str, ...]] = {
    "de": ("Die Antwort ist",),
}

# How the answer sentence is built around the prefix, where it differs from
# "{prefix} {answer}." (the exemplars' own punctuation: Bengali danda, Japanese
# copula, Chinese full stop after a space, Thai without a full stop).
_SENTENCE_FORMATS: dict[str, str] = {
    "bn": "{prefix} {answer}।",
    "ja": "{prefix}{answer}です。",
    "ko": "{prefix} {answer}입니다.",
    "th": "{prefix} {answer}",
    "zh": "{prefix} {answer}。",
}

# Characters that models (and CJK or Arabic text) write in place of ASCII
# number punctuation. Decimal digits of every script are folded separately.
_NUMBER_PUNCTUATION = str.maketrans({
    "\uff0c": ",",  # full-width comma
    "\u066c": ",",  # Arabic thousands separator
    "\uff0e": ".",  # full-width full stop
    "\u066b": ".",  # Arabic decimal separator
    "\uff0d": "-",  # full-width hyphen-minus
    "\u2212": "-",  # minus sign
})

# A number: an optional minus sign (only when it cannot be a subtraction, i.e.
# not right after a word character or closing bracket: "74-35" is 74 and 35),
# digits with optional comma thousands groups, and an optional decimal part.
_NUMBER = re.compile(r"(?:(?<![\w)\]])-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?", re.ASCII)

_ALL_PREFIXES = sorted(
    {prefix for prefix in ANSWER_PREFIXES.values()}
    | {variant for variants in ANSWER_PREFIX_VARIANTS.values() for variant in variants},
    key=len,
    reverse=True,  # Longest first, so that the alternation prefers the fullest phrase.
)
_PREFIX = re.compile("|".join(re.escape(prefix) for prefix in _ALL_PREFIXES), re.IGNORECASE)


def _fold_digits(text: str) -> str:
  """`text` with every Unicode decimal digit (full-width, Arabic-Indic, ...) made ASCII."""
  return "".join(
      str(unicodedata.decimal(character)) if character.isdecimal() else character
      for character in text
  ).translate(_NUMBER_PUNCTUATION)


def normalize_number(number: str) -> str:
  """The canonical string of a number: "1,000" -> "1000", "11.0" -> "11", "-0" -> "0".

  Guarantees that two strings denoting the same value normalise to the same
  string, with no thousands separators, no exponent and no trailing zeros.

  Raises:
    UserInputError: `number` is not a decimal number.
  """
  folded = _fold_digits(number.strip())
  if not _NUMBER.fullmatch(folded):
    raise UserInputError(f"{number!r} is not a number")
  value = decimal.Decimal(folded.replace(",", ""))
  if value == value.to_integral_value():
    return str(int(value))
  return format(value.normalize(), "f")


def answer_sentence(language: str, answer: int | str) -> str:
  """The training target that states `answer` the way the language's exemplars do.

  Examples: "The answer is 8.", "答えは8です。", "答案是 8。". The number is
  normalised first, so "1,000" is written as 1000.

  Raises:
    UserInputError: unknown language, or `answer` is not a number.
  """
  check_language(language, tuple(ANSWER_PREFIXES), what="answer language")
  template = _SENTENCE_FORMATS.get(language, "{prefix} {answer}.")
  return template.format(prefix=ANSWER_PREFIXES[language], answer=normalize_number(str(answer)))


def extract_number(text: str) -> str | None:
  """The answer a completion states, as a normalised number string, or None if none.

  MGSM-style extraction: when the answer phrase of any language occurs
  (case-insensitively), the first number after its last occurrence; otherwise,
  or when no number follows that occurrence, the last number in the text.
  Digits of any script are read (full-width "１２" is 12), comma thousands
  separators are removed ("1,000" -> "1000"), "11.0" becomes "11", and a minus
  sign counts only where it cannot be a subtraction ("-5" but not "7-5").
  """
  text = _fold_digits(text)
  prefix_end = max((match.end() for match in _PREFIX.finditer(text)), default=None)
  if prefix_end is not None:
    match = _NUMBER.search(text, prefix_end)
    if match:
      return normalize_number(match.group())
  numbers = _NUMBER.findall(text)
  return normalize_number(numbers[-1]) if numbers else None


def answers_match(predicted: str | None, reference: str) -> bool:
  """True exactly when `predicted` is a number equal in value to `reference`.

  None or a non-numeric prediction never matches.

  Raises:
    UserInputError: `reference` is not a number (a bug in the data, never hidden).
  """
  reference_value = decimal.Decimal(normalize_number(reference))
  if predicted is None:
    return False
  try:
    return decimal.Decimal(normalize_number(predicted)) == reference_value
  except UserInputError:
    return False


# lm-eval's mgsm `flexible-extract` filter (lm_eval/tasks/mgsm/utils.py add_regex_pattern):
# regex `(-?[$0-9.,]{2,})|(-?[0-9]+)` with group_select -1 (the last match), then
# take_first; RegexFilter keeps a match's first non-empty group, stripped.
_FLEXIBLE_NUMBER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def final_number(text: str) -> str | None:
  """The last number-like span of a completion, as lm-eval's MGSM CoT tasks extract it.

  Guarantees the string lm-eval's `flexible-extract` filter returns ("$18.", "1,000",
  "-3"), or None where it returns its "[invalid]" fallback (no digit run at all). ASCII
  digits only, like the filter.
  """
  matches = _FLEXIBLE_NUMBER.findall(text)
  if not matches:
    return None
  groups = [group for group in matches[-1] if group]
  return groups[0].strip() if groups else None


def exact_token_match(extracted: str | None, reference: str) -> bool:
  """lm-eval's `exact_match` with ignore_case and ignore_punctuation, as its MGSM CoT tasks
  configure it: equal after lower-casing and deleting ASCII punctuation ("$1,000." equals
  "1000"; "18.0" does not equal "18"). None (no number) never matches."""
  if extracted is None:
    return False
  return extracted.lower().translate(_PUNCTUATION) == reference.lower().translate(_PUNCTUATION)
