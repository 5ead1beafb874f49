"""ROUGE-1/2/L as XL-Sum scores it, for every language the studies evaluate, offline.

Plain `rouge-score` keeps only [a-z0-9] and so deletes every non-Latin character. XLSum
(Hasan et al., 2021) is scored with its own fork, github.com/csebuetnlp/xl-sum
`multilingual_rouge_scoring/` (on PyPI as `multilingual-rouge`), called the way its
`seq2seq/utils.py: calculate_rouge` calls it: `RougeScorer(["rouge1", "rouge2", "rougeL"],
lang=<XLSum language name>, use_stemmer=True)`. Its algorithm, which this module and its
two helpers reproduce:

1. Lower-case the text (`str.lower`).
2. Normalise (`tokenizers.BasicTokenizer`, from BERT): drop NUL, U+FFFD and every
   Unicode control or format character (category C*, which includes zero-width joiners)
   except tab, CR and LF; turn whitespace (those three, space, category Zs) into spaces;
   split on whitespace and on punctuation, dropping the punctuation (every ASCII
   character that is not a letter or digit, and Unicode category P*). Letters, digits,
   marks and symbols (S*: currency, emoji) stay. The words are joined with spaces.
3. Segment (`rouge_scorer.MultiTokenizer`): zh with jieba, ja with MeCab, th with
   PyThaiNLP newmm (`rouge_segmenters.py`). Every other language, and any text a segmenter
   returns nothing for: OpenNMT Tokenizer in "aggressive" mode (`pyonmttok`: letters and
   digits apart, each symbol a token of its own), then a space around every CJK
   ideograph, then split on whitespace. Korean therefore keeps its space-separated words (eojeol),
   with digits split off: the reference has no Korean segmenter (Kiwi or MeCab-ko would
   change its numbers, so we do not add one).
4. Stem (`rouge_scorer.MultiStemmer`, on by default in XL-Sum's evaluation): each token
   longer than 3 characters, with the language's stemmer (`rouge_stemmers.py`: NLTK
   Snowball for ar, en, es, fr, pt, ru, keeping NLTK's stopwords unstemmed; TurkishStemmer
   for tr; a suffix list for hi; Rafi Kamal's rules for bn). ja, ko, sw, te, th and zh have
   no stemmer, so stemming changes nothing for them.
5. Drop empty tokens (a space token from jieba or newmm is not empty: it stays).
6. Score the token lists with Google's ROUGE (which XL-Sum's fork copies unchanged):
   ROUGE-N from clipped n-gram counts, ROUGE-L from the longest common subsequence,
   F = 2PR / (P + R). We call `rouge-score`'s `RougeScorer` with our tokenizer for this.

Per language, `score_by_language` averages each example's F-measure, in 0-1 (XL-Sum
prints 100 x the midpoint of a bootstrap over the same per-example scores, an estimate of
this mean).

Where this differs from running the reference: it never downloads (the reference fetches
NLTK's stopword list to stem and the full UniDic for Japanese; we ship the stopword lists
and use unidic-lite, whose segmentation can differ on rare words); and Bengali stemming
works (the PyPI package omits the stemmer's rules file). Tests compare every language
with the reference (tests/test_rouge.py).
"""

import dataclasses
import functools
import unicodedata
from collections.abc import Iterable

from xlt_jax.core import languages
from xlt_jax.evaluation import prediction_files, rouge_segmenters, rouge_stemmers

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")

# Our language code -> XL-Sum's language name (the reference's `lang`): the languages of
# the XLSum reader (tasks/formats/xlsum.py) and P0's evaluation languages.
LANGUAGES = {
    "ar": "arabic", "bn": "bengali", "en": "english", "es": "spanish", "fr": "french",
    "hi": "hindi", "ja": "japanese", "ko": "korean", "pt": "portuguese", "ru": "russian",
    "sw": "swahili", "te": "telugu", "th": "thai", "tr": "turkish", "zh": "chinese",
}
# Tokens of at most this many characters are never stemmed (the reference's min_char_length).
MIN_STEM_LENGTH = 3


def _is_control(char: str) -> bool:
  return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_whitespace(char: str) -> bool:
  return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_punctuation(char: str) -> bool:
  code = ord(char)
  if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def _is_cjk_ideograph(code: int) -> bool:
  return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
          or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F
          or 0x2B820 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF
          or 0x2F800 <= code <= 0x2FA1F)


def normalise(text: str) -> list[str]:
  """Step 2: the words of `text` without control characters and punctuation."""
  chars = []
  for char in text:
    if char in "\x00\ufffd" or _is_control(char):
      continue
    chars.append(" " if _is_whitespace(char) or _is_punctuation(char) else char)
  return "".join(chars).split()


@functools.lru_cache(maxsize=None)
def _pretokenizer():
  import pyonmttok

  return pyonmttok.Tokenizer("aggressive")


def _default_tokens(text: str) -> list[str]:
  """Step 3 without a segmenter: OpenNMT aggressive pre-tokenization, CJK ideographs apart."""
  text = " ".join(_pretokenizer().tokenize(text)[0])
  return "".join(f" {char} " if _is_cjk_ideograph(ord(char)) else char for char in text).split()


def check_language(language: str) -> str:
  """Returns `language` if ROUGE knows it, else raises UserInputError naming the known ones."""
  return languages.check_language(language, tuple(LANGUAGES), what="ROUGE language")


def tokenize(text: str, language: str, use_stemmer: bool = True) -> list[str]:
  """The tokens XL-Sum's ROUGE compares for `text` in `language` (steps 1-5).

  Args:
    text: a prediction or reference.
    language: one of LANGUAGES (our codes).
    use_stemmer: stem tokens where the language has a stemmer.

  Returns:
    The tokens, in order.
  """
  check_language(language)
  text = " ".join(normalise(text.lower().strip()))
  segment = rouge_segmenters.segmenter(language)
  tokens = segment(text) if segment else []
  if not tokens and text:
    tokens = _default_tokens(text)
  stem = rouge_stemmers.stemmer(language) if use_stemmer else None
  if stem:
    tokens = [stem(token) if len(token) > MIN_STEM_LENGTH else token for token in tokens]
  return [token for token in tokens if token]


class XLSumTokenizer:
  """`tokenize` for one language, as a `rouge_score` tokenizer (a `tokenize(text)` method)."""

  def __init__(self, language: str, use_stemmer: bool = True):
    self.language = check_language(language)
    self.use_stemmer = use_stemmer

  def tokenize(self, text: str) -> list[str]:
    return tokenize(text, self.language, self.use_stemmer)


def scorer(language: str, use_stemmer: bool = True):
  """A `rouge_score.rouge_scorer.RougeScorer` for ROUGE_TYPES with XL-Sum's tokenization."""
  from rouge_score import rouge_scorer

  return rouge_scorer.RougeScorer(list(ROUGE_TYPES),
                                  tokenizer=XLSumTokenizer(language, use_stemmer))


def score(prediction: str, reference: str, language: str,
          use_stemmer: bool = True) -> dict[str, float]:
  """ROUGE-1/2/L F-measures (0-1) of one prediction against its reference."""
  scores = scorer(language, use_stemmer).score(reference, prediction)
  return {rouge_type: scores[rouge_type].fmeasure for rouge_type in ROUGE_TYPES}


@dataclasses.dataclass(frozen=True)
class Example:
  """One scored item: its language code, the model's prediction and the reference."""
  language: str
  prediction: str
  reference: str


def score_by_language(examples: Iterable[Example],
                      use_stemmer: bool = True) -> dict[str, dict[str, float]]:
  """Mean ROUGE-1/2/L F-measure per language, languages in sorted order.

  Args:
    examples: items in any order and mix of languages (each language checked).
    use_stemmer: stem where the language has a stemmer (XL-Sum's default: True).

  Returns:
    {language: {"rouge1": F, "rouge2": F, "rougeL": F}}, means over that language's items.
  """
  scorers = {}

  def item(example: Example) -> tuple[str, dict[str, float]]:
    language = check_language(example.language)
    if language not in scorers:
      scorers[language] = scorer(language, use_stemmer)
    scores = scorers[language].score(example.reference, example.prediction)
    return language, {rouge_type: scores[rouge_type].fmeasure for rouge_type in ROUGE_TYPES}

  return prediction_files.mean_by_language(item(example) for example in examples)


# The fields a predictions file needs for ROUGE (see prediction_files.py).
FIELDS = ("language", "prediction", "reference")


def score_file(path: str, use_stemmer: bool = True) -> dict[str, dict[str, float]]:
  """`score_by_language` of a predictions file (JSONL with FIELDS on every line).

  Raises:
    UserInputError: a missing file, or the first line without the fields or with a
      language ROUGE does not know, named by file and line.
  """
  rows = prediction_files.read(path, FIELDS, languages=LANGUAGES)
  return score_by_language(
      (Example(row["language"], row["prediction"], row["reference"]) for row in rows),
      use_stemmer=use_stemmer)
