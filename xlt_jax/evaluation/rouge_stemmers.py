"""The stemmers of XL-Sum's multilingual ROUGE, per language code, without downloads.

XL-Sum's scorer (github.com/csebuetnlp/xl-sum, `multilingual_rouge_scoring/stemmers.py`;
on PyPI as `multilingual-rouge`) stems with:

- NLTK's Snowball stemmers built with `ignore_stopwords=True` (a token in NLTK's stopword
  list is left unstemmed) for the Snowball languages: of ours ar, en, es, fr, pt, ru. NLTK
  would download that list at run time; we read byte-identical copies shipped in
  `nltk_stopwords/` (see its README) and hand them to the same NLTK stemmer classes.
- `TurkishStemmer` (PyPI `TurkishStemmer`) for tr.
- A suffix-stripping Hindi stemmer (Ramanathan and Rao, "A Lightweight Stemmer for
  Hindi", 2003) for hi: the longest listed suffix length L (5 down to 1) such that the
  token is longer than L + 1 and ends in a listed suffix of that length; L characters are
  cut. Reproduced below.
- Rafi Kamal's rule-based Bengali stemmer for bn (`bengali_stemmer.py`).

Every other language (ja, ko, sw, te, th, zh) has no stemmer there and none here. The
caller stems only tokens longer than 3 characters, as the reference does.
"""

import functools
import os
from collections.abc import Callable

from xlt_jax.evaluation import bengali_stemmer

Stemmer = Callable[[str], str]

# Our language code -> NLTK's Snowball language name.
SNOWBALL_LANGUAGES = {
    "ar": "arabic", "en": "english", "es": "spanish", "fr": "french", "pt": "portuguese",
    "ru": "russian",
}
# Every language that has a stemmer.
STEMMING_LANGUAGES = frozenset({*SNOWBALL_LANGUAGES, "bn", "hi", "tr"})

STOPWORDS_DIR = os.path.join(os.path.dirname(__file__), "nltk_stopwords")

# The reference's HindiStemmer suffixes, by length.
HINDI_SUFFIXES: dict[int, tuple[str, ...]] = {
    1: ("ो", "े", "ू", "ु", "ी", "ि", "ा"),
    2: ("कर", "ाओ", "िए", "ाई", "ाए", "ने", "नी", "ना", "ते", "ीं", "ती", "ता", "ाँ", "ां", "ों",
        "ें"),
    3: ("ाकर", "ाइए", "ाईं", "ाया", "ेगी", "ेगा", "ोगी", "ोगे", "ाने", "ाना", "ाते", "ाती", "ाता",
        "तीं", "ाओं", "ाएं", "ुओं", "ुएं", "ुआं"),
    4: ("ाएगी", "ाएगा", "ाओगी", "ाओगे", "एंगी", "ेंगी", "एंगे", "ेंगे", "ूंगी", "ूंगा", "ातीं",
        "नाओं", "नाएं", "ताओं", "ताएं", "ियाँ", "ियों", "ियां"),
    5: ("ाएंगी", "ाएंगे", "ाऊंगी", "ाऊंगा", "ाइयाँ", "ाइयों", "ाइयां"),
}


def hindi_stem(token: str) -> str:
  """The token without its longest Hindi inflectional suffix (HINDI_SUFFIXES)."""
  for length in (5, 4, 3, 2, 1):
    if len(token) > length + 1:
      for suffix in HINDI_SUFFIXES[length]:
        if token.endswith(suffix):
          return token[:-length]
  return token


def read_stopwords(snowball_language: str) -> frozenset[str]:
  """NLTK's stopword list for a Snowball language name, from the shipped copy.

  Read as NLTK's `stopwords.words(language)` reads it (`line_tokenize`: one entry per
  line that is not blank).
  """
  with open(os.path.join(STOPWORDS_DIR, snowball_language), encoding="utf-8") as file:
    return frozenset(line for line in file.read().splitlines() if line.rstrip())


def snowball_stemmer(language: str) -> Stemmer:
  """NLTK's Snowball stemmer for a language code, leaving NLTK's stopwords unstemmed."""
  from nltk.stem import snowball

  name = SNOWBALL_LANGUAGES[language]
  # The class SnowballStemmer(name, ignore_stopwords=True) instantiates; built without
  # stopwords (no corpus lookup), then given the same set its stem() consults.
  stemmer = getattr(snowball, name.capitalize() + "Stemmer")(ignore_stopwords=False)
  stemmer.stopwords = set(read_stopwords(name))
  return stemmer.stem


def turkish_stemmer() -> Stemmer:
  """The `TurkishStemmer` package's stemmer."""
  from TurkishStemmer import TurkishStemmer

  return TurkishStemmer().stem


@functools.lru_cache(maxsize=None)
def stemmer(language: str) -> Stemmer | None:
  """The reference's stemmer for a language code, or None where it has none."""
  if language in SNOWBALL_LANGUAGES:
    return snowball_stemmer(language)
  if language == "tr":
    return turkish_stemmer()
  if language == "hi":
    return hindi_stem
  if language == "bn":
    return bengali_stemmer.stem
  return None
