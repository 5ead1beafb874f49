"""Numeric answers in the style of MGSM: the answer sentence and its extraction."""

import re
import unicodedata

# The phrase that introduces the final answer, from the official MGSM exemplars
# (their answers end with e.g. "The answer is 11."). ar, ko and pt are not in MGSM:
# those three phrases are ours.
ANSWER_PREFIXES: dict[str, str] = {
    "bn": "উত্তর হল",
    "de": "Die Antwort ist",
    "en": "The answer is",
    "es": "La respuesta es",
    "fr": "La réponse est",
    "ja": "答えは",
    "ru": "Ответ —",
    "sw": "Jibu ni",
    "te": "సమాధానం",
    "th": "คำตอบคือ",
    "zh": "答案是",
    "ar": "الإجابة هي",
    "ko": "답은",
    "pt": "A resposta é",
}

_SENTENCE_FORMATS: dict[str, str] = {
    "bn": "{prefix} {answer}।",
    "ja": "{prefix}{answer}です。",
    "ko": "{prefix} {answer}입니다.",
    "th": "{prefix} {answer}",
    "zh": "{prefix} {answer}。",
}

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def answer_sentence(language: str, answer: int | str) -> str:
  """The training target that states the answer, e.g. "The answer is 8." or "答えは8です。"."""
  template = _SENTENCE_FORMATS.get(language, "{prefix} {answer}.")
  return template.format(prefix=ANSWER_PREFIXES[language], answer=answer)


def _normalise(number: str) -> str:
  number = number.replace(",", "")
  if "." in number:
    number = number.rstrip("0").rstrip(".")
  return "0" if number in ("-0", "") else number


def extract_number(text: str) -> str | None:
  """The answer a completion states, as a normalised number string, or None.

  If any language's answer phrase occurs, the first number after its last
  occurrence; otherwise the last number in the text. Full-width digits are folded
  (NFKC), thousands separators removed, and "11.0" becomes "11".
  """
  text = unicodedata.normalize("NFKC", text)
  last_prefix_end = -1
  for prefix in ANSWER_PREFIXES.values():
    position = text.rfind(unicodedata.normalize("NFKC", prefix))
    if position >= 0:
      last_prefix_end = max(last_prefix_end, position + len(prefix))
  if last_prefix_end >= 0:
    match = _NUMBER.search(text, last_prefix_end)
    if match:
      return _normalise(match.group().rstrip(","))
  numbers = _NUMBER.findall(text)
  return _normalise(numbers[-1].rstrip(",")) if numbers else None


def answers_match(predicted: str | None, reference: str) -> bool:
  """True when the predicted number equals the reference numerically."""
  if predicted is None:
    return False
  try:
    return abs(float(predicted) - float(_normalise(reference))) < 1e-9
  except ValueError:
    return False
