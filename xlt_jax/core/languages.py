"""Language codes the studies use, with their scripts and display names."""

from xlt_jax.core.errors import UserInputError

# ISO 639-1 code -> (English name, script). Scripts follow ISO 15924.
LANGUAGES: dict[str, tuple[str, str]] = {
    "ar": ("Arabic", "Arab"),
    "bn": ("Bengali", "Beng"),
    "cs": ("Czech", "Latn"),
    "de": ("German", "Latn"),
    "en": ("English", "Latn"),
    "es": ("Spanish", "Latn"),
    "et": ("Estonian", "Latn"),
    "fi": ("Finnish", "Latn"),
    "fr": ("French", "Latn"),
    "ga": ("Irish", "Latn"),
    "he": ("Hebrew", "Hebr"),
    "hi": ("Hindi", "Deva"),
    "hr": ("Croatian", "Latn"),
    "it": ("Italian", "Latn"),
    "ja": ("Japanese", "Jpan"),
    "ko": ("Korean", "Kore"),
    "pl": ("Polish", "Latn"),
    "pt": ("Portuguese", "Latn"),
    "ru": ("Russian", "Cyrl"),
    "sk": ("Slovak", "Latn"),
    "sl": ("Slovenian", "Latn"),
    "sr": ("Serbian", "Cyrl"),
    "sw": ("Swahili", "Latn"),
    "te": ("Telugu", "Telu"),
    "th": ("Thai", "Thai"),
    "zh": ("Chinese", "Hans"),
}


def check_language(code: str, known: tuple[str, ...] | None = None, what: str = "language") -> str:
  """Returns `code` if it is a known language code, else raises UserInputError naming it."""
  allowed = tuple(known) if known is not None else tuple(LANGUAGES)
  if code not in allowed:
    raise UserInputError(
        f"unknown {what} code {code!r}; known codes: {', '.join(sorted(allowed))}"
    )
  return code


def script_of(code: str) -> str:
  """The ISO 15924 script of a language code."""
  return LANGUAGES[check_language(code)][1]
