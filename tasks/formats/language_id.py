"""Offline language identification (py3langid, whose model ships in the wheel)."""

import functools

from py3langid import langid


@functools.lru_cache(maxsize=1)
def _identifier() -> langid.LanguageIdentifier:
  # Loaded on first use, once per process: normalised probabilities, all 97 languages.
  return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def identify(text: str) -> tuple[str, float]:
  """(ISO 639-1 code, probability in [0, 1]) of the most likely language of `text`."""
  language, probability = _identifier().classify(text)
  return language, float(probability)
