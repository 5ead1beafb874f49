"""Word segmenters of XL-Sum's multilingual ROUGE for unspaced scripts, offline.

XL-Sum's scorer (github.com/csebuetnlp/xl-sum, `multilingual_rouge_scoring/tokenizers.py`;
PyPI `multilingual-rouge`) segments three of our languages with a dedicated segmenter:

- zh: jieba's default dictionary, accurate mode with HMM (`list(jieba.cut(text))`). jieba
  returns the spaces between words as tokens of their own; they are kept, as there.
- ja: MeCab through fugashi, `Tagger("-O wakati -b 50000")`, split on whitespace. The
  reference relies on the full UniDic (the `unidic` package, downloaded separately);
  we name the dictionary of `unidic-lite` (UniDic 2.1.2, shipped in its wheel) instead, so
  segmentation can differ from the reference's on rare words.
- th: PyThaiNLP's `word_tokenize(text, engine="newmm")` (its dictionary ships in the
  wheel); spaces come back as tokens and are kept, as there.

Every other language (ko included: the reference has no Korean segmenter) goes through
the reference's default tokenization in `rouge.py`. Segmenters are built once per process
on first use: jieba loads its dictionary in about a second.
"""

import functools
import logging
import os
from collections.abc import Callable

Segmenter = Callable[[str], list[str]]

SEGMENTING_LANGUAGES = frozenset({"ja", "th", "zh"})


def jieba_segmenter() -> Segmenter:
  """Chinese: jieba's default tokenizer (its own instance, dictionary loaded now)."""
  import jieba

  jieba.setLogLevel(logging.WARNING)  # it logs dictionary loading at DEBUG to stderr
  tokenizer = jieba.Tokenizer()
  tokenizer.initialize()
  return lambda text: list(tokenizer.cut(text))


def mecab_segmenter() -> Segmenter:
  """Japanese: MeCab (fugashi) with unidic-lite, the reference's tagger arguments."""
  import fugashi
  import unidic_lite

  dictionary = unidic_lite.DICDIR
  tagger = fugashi.Tagger(f'-O wakati -b 50000 -d "{dictionary}"'
                          f' -r "{os.path.join(dictionary, "mecabrc")}"')
  return lambda text: tagger.parse(text).split()


def newmm_segmenter() -> Segmenter:
  """Thai: PyThaiNLP's dictionary-based maximal matching (newmm)."""
  from pythainlp.tokenize import word_tokenize

  return lambda text: word_tokenize(text, engine="newmm")


@functools.lru_cache(maxsize=None)
def segmenter(language: str) -> Segmenter | None:
  """The reference's segmenter for a language code, or None where it has none."""
  builders = {"ja": mecab_segmenter, "th": newmm_segmenter, "zh": jieba_segmenter}
  return builders[language]() if language in builders else None
