"""MGSM and its machine-translated test sets: validated copies of the official TSV files."""


from tasks.formats import mgsm_translated
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file
from xlt_jax.evaluation import mgsm_format

MGSM_URL = "https://raw.githubusercontent.com/google-research/url-nlp/main/mgsm/mgsm_{}.tsv"
MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


def prepare_mgsm(out_dir: str, source: str | None, fetcher: Fetcher, **unused) -> dict:
  """DATA_DIR/mgsm/mgsm_<lang>.tsv (+ exemplars.json when the source has it).

  Without `source` the TSV files come from the publisher's repository; the
  8-shot exemplars must then be added as DATA_DIR/mgsm/exemplars.json.
  """
  del unused
  written = []
  for language in MGSM_LANGUAGES:
    name = f"mgsm_{language}.tsv"
    local = fetcher.url(MGSM_URL.format(language)) if source is None else paths.join(source, name)
    mgsm_format.read_mgsm_tsv(local)  # file:line errors before anything is copied
    written.append(copy_file(local, paths.join(out_dir, "mgsm", name)))
  if source is not None and paths.isfile(paths.join(source, "exemplars.json")):
    mgsm_format.read_exemplars(paths.join(source, "exemplars.json"))
    written.append(copy_file(paths.join(source, "exemplars.json"),
                             paths.join(out_dir, "mgsm", "exemplars.json")))
  return {"dataset": "mgsm", "written": written}


def prepare_translated(out_dir: str, source: str | None, fetcher: Fetcher,
                       languages: tuple[str, ...] | None = None, **unused) -> dict:
  """DATA_DIR/mgsm_translated/: the user's translations of mgsm_en.tsv, validated.

  There is nothing to download: P0 translated the English test set with Google
  Translate. `source` holds mgsm_<lang>.tsv for pt, ko, ar (same format as
  MGSM, the same 250 questions in the same order), exemplars.json with their
  exemplars, and optionally TRANSLATION naming the translator.
  """
  del fetcher, unused
  if source is None:
    raise UserInputError("mgsm_translated has no download: translate mgsm_en.tsv and pass"
                         " --source DIR with mgsm_<lang>.tsv and exemplars.json")
  exemplars = mgsm_format.read_exemplars(paths.join(source, "exemplars.json"))
  written = []
  for language in languages or mgsm_translated.LANGUAGES:
    exemplars[language]  # DataFormatError naming the file when the language is missing
    local = paths.join(source, f"mgsm_{language}.tsv")
    mgsm_format.read_mgsm_tsv(local)
    written.append(copy_file(local, mgsm_translated.path(out_dir, language, "test")))
  for name in ("exemplars.json", "TRANSLATION"):
    if paths.isfile(paths.join(source, name)):
      written.append(copy_file(paths.join(source, name),
                               paths.join(out_dir, "mgsm_translated", name)))
  return {"dataset": "mgsm_translated", "written": written}
