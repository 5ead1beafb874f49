"""How extractive-QA answers are normalised before they are compared: SQuAD's, MLQA's, none.

Three rules, each a function from an answer string to the string that exact match
compares; F1 compares its space-separated tokens.

`squad`: the official SQuAD v1.1 evaluation script's `normalize_answer` (Rajpurkar et al.,
2016; the copy HF `evaluate` ships as metrics/squad/compute_score.py):

1. lower-case (`str.lower`);
2. delete ASCII punctuation (`string.punctuation`: only those 32 characters, so «», ¿,
   the Chinese full stop and other non-ASCII punctuation stay);
3. replace the English articles a, an, the (whole words: `\\b(a|an|the)\\b`) by a space;
4. collapse whitespace: split on any whitespace, join with one space.

`mlqa`: the official MLQA script's `normalize_answer(s, lang)` (Lewis et al., 2020,
github.com/facebookresearch/MLQA `mlqa_evaluation_v1.py`):

1. lower-case;
2. delete punctuation: every character of Unicode category P* and the ASCII punctuation;
3. replace the language's articles by a space: en a an the; es un una unos unas el la los
   las; de ein eine einen einem eines einer der die das den dem des; vi của là cái chiếc
   những (whole words); ar every "ال", wherever it stands (MLQA's pattern `\\sال^|ال`,
   whose first branch never matches, so the second removes the letters inside words too);
   hi and zh have none;
4. tokenise: zh by "mixed segmentation" (each character in U+4E00-U+9FA5 a token of its
   own, the text between them split on whitespace), the other languages on whitespace;
   then join the tokens with one space.

MLQA defines seven languages (ar de en es hi vi zh) and raises for any other. XQuAD and
TyDi QA have more, so here, as our extension: ja is segmented like zh (with MLQA's
character range, which holds the kanji; a run of kana stays one token), and every other
language has no articles and whitespace tokens, which is what lm-evaluation-harness's
TyDi QA GoldP task (0.4.13, `lm_eval/tasks/tydiqa/utils.py`) does for its languages
other than en and ar.

`strict`: the answer with surrounding whitespace removed, nothing else (case,
punctuation and inner spacing count): a "strict string-level exact match".

Which rule a study uses is its evaluation's choice (see `qa_metrics.py`).
"""

import re
import string
import unicodedata
from collections.abc import Callable

NORMALISATIONS = ("squad", "mlqa", "strict")

_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

# MLQA's article patterns, verbatim (mlqa_evaluation_v1.py, remove_articles).
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile(r"\sال^|ال"),
}
# Languages MLQA segments per character (zh in MLQA; ja is our extension).
_MIXED_SEGMENTATION = ("zh", "ja")
_MLQA_HAN = re.compile(r"[\u4e00-\u9fa5]")


def squad(text: str) -> str:
  """The SQuAD v1.1 normalisation (steps in the module docstring)."""
  text = "".join(char for char in text.lower() if char not in _ASCII_PUNCTUATION)
  return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def _is_mlqa_punctuation(char: str) -> bool:
  """MLQA's PUNCT: Unicode category P*, or ASCII punctuation (which includes symbols)."""
  return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
  """MLQA's `mixed_segmentation`: each Han character (or punctuation mark) a token."""
  tokens, run = [], ""
  for char in text:
    if _MLQA_HAN.search(char) or _is_mlqa_punctuation(char):
      tokens.extend(run.split())
      run = ""
      tokens.append(char)
    else:
      run += char
  tokens.extend(run.split())
  return tokens


def mlqa(text: str, language: str) -> str:
  """The MLQA normalisation for `language` (steps and extension in the module docstring)."""
  text = "".join(char for char in text.lower() if not _is_mlqa_punctuation(char))
  if language in _MLQA_ARTICLES:
    text = _MLQA_ARTICLES[language].sub(" ", text)
  tokens = _mixed_segmentation(text) if language in _MIXED_SEGMENTATION else text.split()
  return " ".join(token for token in tokens if token.strip())


def strict(text: str) -> str:
  """The answer as written, without surrounding whitespace."""
  return text.strip()


def normaliser(name: str, language: str) -> Callable[[str], str]:
  """The normalisation `name` (one of NORMALISATIONS) for answers in `language`.

  Raises:
    ValueError: `name` is not one of NORMALISATIONS.
  """
  if name == "squad":
    return squad
  if name == "mlqa":
    return lambda text: mlqa(text, language)
  if name == "strict":
    return strict
  raise ValueError(f"unknown normalisation {name!r}; known: {', '.join(NORMALISATIONS)}")
