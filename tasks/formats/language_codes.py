"""Language labels as releases write them -> our ISO 639-1 codes.

Releases label rows in several systems, all of which `base_language` understands:

- BCP-47 tags, with or without a region or script subtag. OASST1's `lang` column is
  one (card: https://huggingface.co/datasets/OpenAssistant/oasst1, a string column;
  the card's language list is ISO 639-1, but the messages carry tags such as "pt-BR"
  and "uk-UA" next to "en", "es", "zh": see the per-tag message counts of the OASST
  exports, e.g. https://huggingface.co/datasets/NickyNicky/oasst2_chatml).
- OpenLID labels, an ISO 639-3 code and an ISO 15924 script joined by "_" ("spa_Latn",
  "zho_Hans", "eng_Latn"), as P3 assigns them to Guanaco with the OpenLID fastText model
  (github.com/ZurichNLP/multilingual-instruction-tuning, assign_guanaco_langs.py, whose
  `lang_set` lists spa_Latn, eng_Latn, rus_Cyrl, deu_Latn, zho_Hans, fra_Latn, cat_Latn,
  tha_Thai, por_Latn, ita_Latn).
- Plain ISO 639-1 ("es") or ISO 639-3 ("spa") codes.

A region or script never changes the language: "pt-BR" and "pt-PT" are both "pt",
"zho_Hans" and "zh-TW" both "zh".
"""

import re

# ISO 639-3 (individual and macrolanguage codes the releases use) -> ISO 639-1.
ISO_639_3 = {
    "ara": "ar", "arb": "ar", "ben": "bn", "bul": "bg", "cat": "ca", "ces": "cs", "cmn": "zh",
    "dan": "da", "deu": "de", "ell": "el", "eng": "en", "epo": "eo", "est": "et", "eus": "eu",
    "fas": "fa", "pes": "fa", "fin": "fi", "fra": "fr", "gle": "ga", "glg": "gl", "heb": "he",
    "hin": "hi", "hrv": "hr", "hun": "hu", "ind": "id", "isl": "is", "ita": "it", "jpn": "ja",
    "kor": "ko", "nld": "nl", "nob": "nb", "nor": "no", "pol": "pl", "por": "pt", "ron": "ro",
    "rus": "ru", "slk": "sk", "slv": "sl", "spa": "es", "srp": "sr", "swa": "sw", "swh": "sw",
    "swe": "sv", "tel": "te", "tha": "th", "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi",
    "zho": "zh",
}

_SUBTAG_SEPARATOR = re.compile(r"[-_]")


def base_language(label: object) -> str | None:
  """The ISO 639-1 code of a release's language label, or None when it names none we know.

  "pt-BR" -> "pt", "uk-UA" -> "uk", "zh" -> "zh", "spa_Latn" -> "es", "zho_Hans" -> "zh",
  "ES" -> "es". A label that is not a string, or whose primary subtag is neither two
  letters nor a known ISO 639-3 code, gives None.
  """
  if not isinstance(label, str) or not label.strip():
    return None
  primary = _SUBTAG_SEPARATOR.split(label.strip(), maxsplit=1)[0].lower()
  if len(primary) == 2 and primary.isascii() and primary.isalpha():
    return primary
  return ISO_639_3.get(primary)
