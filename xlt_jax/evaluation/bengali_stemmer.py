"""Rafi Kamal's rule-based Bengali stemmer, as XL-Sum's ROUGE applies it.

XL-Sum's multilingual ROUGE stems Bengali tokens with `RafiStemmer` from
github.com/abhik1505040/bengali-stemmer (`bengali_stemmer/rafikamal2014/`, MIT licence,
Copyright (c) 2017 BanglaKit Project Contributors), which is not on PyPI. This module
implements the same procedure on the same rules (`common.rules` of that package, sha256
5ce1e31033d9376616bbdb3e32e2a5a7b11558c6f8f5a4106df9477f1a719591, transcribed below):

- Rules come in groups, applied one after the other to the word as the previous group
  left it. In a group the first suffix (in rule order) that ends the word decides and the
  group stops there: a suffix with a replacement overwrites the suffix from its first
  character on with the replacement ("." keeps the word's character) and cuts the word
  after it; a plain suffix is cut off if what remains has at least one character that is
  not one of the vowel signs া ি ী ে ু ূ ো, else the word is left as it is.
- Suffixes are compared literally. Two rules contain "." ("ে.েছিলেন", "ে.ে"), which the
  original matches as a literal full stop, so they never fire; and "য়" in the rules is the
  precomposed U+09DF, which NFC-normalised text spells U+09AF U+09BC, so those rules fire
  only on text that keeps U+09DF. Both quirks are kept: the aim is XL-Sum's numbers.
"""

# Vowel signs that do not count as a remaining character (the original's `st`).
_VOWEL_SIGNS = frozenset("\u09be\u09bf\u09c0\u09c7\u09c1\u09c2\u09cb")

# Rule groups in order: (suffix, replacement or None). U+09DF spelled out where it occurs.
RULES: tuple[tuple[tuple[str, str | None], ...], ...] = (
  (
    ("ই", None),
    ("ও", None),
    ("তো", None),
  ),
  (
    ("কে", None),
    ("তে", None),
    ("রা", None),
  ),
  (
    ("চ্ছি", None),
    ("চ্ছিল", None),
    ("চ্ছে", None),
    ("চ্ছিস", None),
    ("চ্ছিলেন", None),
    ("চ্ছ", None),
    ("\u09dfেছে", None),
    ("েছ", None),
    ("েছে", None),
    ("েছেন", None),
    ("রছ", "র"),
    ("রব", "র"),
    ("েল", None),
    ("েলো", None),
    ("ও\u09dfা", None),
    ("ে\u09dfে", "া"),
    ("\u09df", None),
    ("\u09dfে", None),
    ("\u09dfেছিল", None),
    ("ে\u09dfেছিল", "া"),
    ("েছিল", None),
    ("ে\u09dfেছিলেন", "া"),
    ("ে.েছিলেন", "া."),
    ("েছিলেন", None),
    ("লেন", None),
    ("দের", None),
    ("ে.ে", "া."),
    ("ের", None),
    ("ার", None),
    ("েন", None),
    ("বেন", None),
    ("িস", None),
    ("ছিস", None),
    ("ছিলি", None),
    ("ছি", None),
    ("ছে", None),
    ("লি", None),
    ("বি", None),
    ("ে", None),
  ),
  (
    ("টি", None),
    ("টির", None),
    ("েরটা", None),
    ("েরটার", None),
    ("টা", None),
    ("টার", None),
    ("গুলো", None),
    ("গুলোর", None),
    ("েরগুলো", None),
    ("েরগুলোর", None),
  ),
)


def _has_stem_left(prefix: str) -> bool:
  return any(char not in _VOWEL_SIGNS for char in prefix)


def _replace(word: str, start: int, replacement: str) -> str:
  chars = list(word)
  for offset, char in enumerate(replacement):
    if char != ".":
      chars[start + offset] = char
  return "".join(chars[:start + len(replacement)])


def stem(word: str) -> str:
  """The word with its Bengali inflectional suffixes removed or rewritten by RULES."""
  for group in RULES:
    for suffix, replacement in group:
      if not word.endswith(suffix):
        continue
      start = len(word) - len(suffix)
      if replacement is not None:
        word = _replace(word, start, replacement)
      elif _has_stem_left(word[:start]):
        word = word[:start]
      break
  return word
