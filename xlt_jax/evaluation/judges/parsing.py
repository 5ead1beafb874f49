"""Reading a judge's verdict out of its reply; None when the reply holds no valid verdict.

- `bracket_rating` (P0, P2): the rating in `[[n]]`, as MT-Bench's judge code reads it
  (lm-sys/FastChat `fastchat/llm_judge/common.py`: `one_score_pattern` `\\[\\[(\\d+\\.?\\d*)\\]\\]`,
  first match, else the backup `\\[(\\d+\\.?\\d*)\\]`; P2 follows that protocol and P0 follows
  P2). P0's prompt asks for `"[rating]"` but shows `Rating: [[2]]`; both forms are read. A
  rating outside the scale (FastChat's -1 for "no rating") is no verdict here.
- `single_digit_choice` (P1): the judge is asked to "Only write a single digit"; the reply,
  stripped of spaces, quotes and a final full stop, must be `1` or `2` (`Answer1` /
  `Answer 2` are accepted too: they name one answer just as unambiguously).
- `likert_json` (P3): the released judge asks for `{"reasoning": str, "score": int}` in JSON
  mode and reads the reply with `json.loads`; the score must be an integer from 1 to 6. A
  reply that wraps the object in a Markdown code fence (judges without JSON mode) is read too.
"""

import ast
import json
import re

_DOUBLE_BRACKETS = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SINGLE_BRACKETS = re.compile(r"\[(\d+\.?\d*)\]")
_CHOICE = re.compile(r"(?:answer\s*)?([12])", re.IGNORECASE)
_FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)


def bracket_rating(reply: str, scale: tuple[int, int] = (1, 5)) -> float | None:
  """The `[[n]]` (else `[n]`) rating of a reply, if it lies on `scale` (inclusive)."""
  match = _DOUBLE_BRACKETS.search(reply) or _SINGLE_BRACKETS.search(reply)
  if match is None:
    return None
  rating = float(ast.literal_eval(match.group(1)))
  return rating if scale[0] <= rating <= scale[1] else None


def explanation(reply: str) -> str:
  """The judge's explanation: its reply up to the rating (the whole reply without one)."""
  match = _DOUBLE_BRACKETS.search(reply) or _SINGLE_BRACKETS.search(reply)
  text = reply[:match.start()] if match else reply
  return text.strip().removesuffix("Rating:").strip()


def single_digit_choice(reply: str) -> int | None:
  """1 or 2: the answer a side-by-side judge chose, or None when the reply is anything else."""
  text = reply.strip().strip("'\"`").strip().removesuffix(".").strip()
  match = _CHOICE.fullmatch(text)
  return int(match.group(1)) if match else None


def likert_json(reply: str, scale: tuple[int, int] = (1, 6)) -> tuple[int, str] | None:
  """(score, reasoning) of a P3 reply, or None when it is not that JSON or the score is off
  the scale."""
  text = reply.strip()
  fenced = _FENCED_JSON.search(text)
  if fenced:
    text = fenced.group(1)
  try:
    value = json.loads(text)
  except ValueError:
    return None
  if not isinstance(value, dict):
    return None
  score = value.get("score")
  if isinstance(score, bool) or not isinstance(score, int | float) or score != int(score):
    return None
  if not scale[0] <= score <= scale[1]:
    return None
  return int(score), str(value.get("reasoning", ""))
