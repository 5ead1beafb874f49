"""MGSM and its machine-translated test sets: validated copies of the official files.

The release (github.com/google-research/url-nlp, folder mgsm/) has one
`mgsm_<lang>.tsv` per language and the 8-shot exemplars as a Python module,
`mgsm/exemplars.py`: a docstring, then the assignments `EXEMPLAR_NUMBER_ANSWERS = [...]`,
`EXEMPLAR_EQUATION_SOLUTIONS = [...]` and `MGSM_EXEMPLARS = {language: {"1".."8": {"q":
..., "a": ...}}}`, whose strings are written as implicitly concatenated literals with
\\u escapes. `read_exemplars_py` reads that file as published without running it: it
parses it with `ast` and evaluates only the right-hand sides of those assignments with
`ast.literal_eval` (literals only; a call or a name is an error). Preparation writes
the result as DATA_DIR/mgsm/exemplars.json, the same keys in JSON (what the readers
load); an `exemplars.json` given instead is checked the same way and its content
written unchanged.
"""

import ast
import json
import os

from tasks.formats import mgsm_translated
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file
from xlt_jax.evaluation import mgsm_format

RELEASE_URL = "https://raw.githubusercontent.com/google-research/url-nlp/main/mgsm/{}"
MGSM_URL = RELEASE_URL.format("mgsm_{}.tsv")
EXEMPLARS_URL = RELEASE_URL.format("exemplars.py")
MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
# The assignments of exemplars.py that are data (all three are literals in the release).
EXEMPLAR_NAMES = ("EXEMPLAR_NUMBER_ANSWERS", "EXEMPLAR_EQUATION_SOLUTIONS", "MGSM_EXEMPLARS")
EXEMPLAR_FILES = ("exemplars.py", "exemplars.json")  # looked for in --source, in this order


def read_exemplars_py(path: str) -> dict:
  """The data assignments of the official `exemplars.py`, never executing it.

  Returns:
    {name: value} for each of EXEMPLAR_NAMES the module assigns at top level
    (MGSM_EXEMPLARS always among them), values as `ast.literal_eval` gives them.

  Raises:
    UserInputError: the file does not exist.
    DataFormatError: not UTF-8 Python, no `MGSM_EXEMPLARS = ...`, or an assigned value
      that is not a literal (file:line named).
  """
  path = os.fspath(path)
  if not paths.isfile(path):
    raise UserInputError(f"MGSM exemplar file {path} does not exist")
  try:
    with paths.open(path, encoding="utf-8") as file:
      tree = ast.parse(file.read(), filename=path)
  except UnicodeDecodeError as error:
    raise DataFormatError(f"{path}: not valid UTF-8 ({error.reason})") from None
  except SyntaxError as error:
    raise DataFormatError(f"{path}:{error.lineno}: not valid Python ({error.msg})") from None
  values = {}
  for node in tree.body:
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id in EXEMPLAR_NAMES):
      continue
    try:
      values[node.targets[0].id] = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
      raise DataFormatError(f"{path}:{node.lineno}: {node.targets[0].id} is not a literal"
                            f" ({error})") from None
  if "MGSM_EXEMPLARS" not in values:
    raise DataFormatError(f"{path}: no top-level 'MGSM_EXEMPLARS = {{...}}' assignment")
  return values


def _exemplar_content(path: str) -> dict:
  """The checked content of exemplars.py or exemplars.json, as the JSON file holds it."""
  if path.endswith(".py"):
    content = read_exemplars_py(path)
  else:
    mgsm_format.read_exemplars(path)
    with paths.open(path, encoding="utf-8") as file:
      content = json.load(file)
  mgsm_format.exemplars_from_object(content, path)  # DataFormatError naming the entry
  return content


def _exemplar_source(source: str | None, fetcher: Fetcher) -> str | None:
  if source is None:
    return fetcher.url(EXEMPLARS_URL)
  for name in EXEMPLAR_FILES:
    if paths.isfile(paths.join(source, name)):
      return paths.join(source, name)
  return None


def prepare_mgsm(out_dir: str, source: str | None, fetcher: Fetcher, **unused) -> dict:
  """DATA_DIR/mgsm/mgsm_<lang>.tsv and DATA_DIR/mgsm/exemplars.json.

  Without `source` every file comes from the publisher's repository, the exemplars
  from `mgsm/exemplars.py`. With it, the TSV files are DIR/mgsm_<lang>.tsv and the
  exemplars DIR/exemplars.py (as published) or DIR/exemplars.json (already
  converted); a source with neither gives the TSV files only. Every file is checked
  before anything is written.
  """
  del unused
  tsv_files = []
  for language in MGSM_LANGUAGES:
    name = f"mgsm_{language}.tsv"
    local = fetcher.url(MGSM_URL.format(language)) if source is None else paths.join(source, name)
    mgsm_format.read_mgsm_tsv(local)  # file:line errors before anything is copied
    tsv_files.append((local, name))
  exemplars = _exemplar_source(source, fetcher)
  content = _exemplar_content(exemplars) if exemplars is not None else None
  written = [copy_file(local, paths.join(out_dir, "mgsm", name)) for local, name in tsv_files]
  if content is not None:
    destination = paths.join(out_dir, "mgsm", "exemplars.json")
    atomic_io.write_json(destination, content)
    written.append(destination)
  return {"dataset": "mgsm", "written": written,
          **({"exemplars_from": os.path.basename(exemplars)} if exemplars else {})}


def prepare_translated(out_dir: str, source: str | None, fetcher: Fetcher,
                       languages: tuple[str, ...] | None = None, **unused) -> dict:
  """DATA_DIR/mgsm_translated/: the user's translations of mgsm_en.tsv, validated.

  There is nothing to download: P0 translated the English test set with Google
  Translate. `source` holds mgsm_<lang>.tsv for pt, ko, ar (same format as
  MGSM, the same 250 questions in the same order), their exemplars as exemplars.py
  (MGSM's format) or exemplars.json, and optionally TRANSLATION naming the translator.
  """
  del fetcher, unused
  if source is None:
    raise UserInputError("mgsm_translated has no download: translate mgsm_en.tsv and pass"
                         " --source DIR with mgsm_<lang>.tsv and exemplars.json")
  path = _exemplar_source(source, None) or paths.join(source, "exemplars.json")
  if not paths.isfile(path):
    raise UserInputError(f"MGSM exemplar file {path} does not exist (or exemplars.py)")
  content = _exemplar_content(path)
  exemplars = mgsm_format.exemplars_from_object(content, path)
  tsv_files = []
  for language in languages or mgsm_translated.LANGUAGES:
    exemplars[language]  # DataFormatError naming the file when the language is missing
    local = paths.join(source, f"mgsm_{language}.tsv")
    mgsm_format.read_mgsm_tsv(local)
    tsv_files.append((local, language))
  written = [copy_file(local, mgsm_translated.path(out_dir, language, "test"))
             for local, language in tsv_files]
  destination = paths.join(out_dir, "mgsm_translated", "exemplars.json")
  atomic_io.write_json(destination, content)
  written.append(destination)
  if paths.isfile(paths.join(source, "TRANSLATION")):
    written.append(copy_file(paths.join(source, "TRANSLATION"),
                             paths.join(out_dir, "mgsm_translated", "TRANSLATION")))
  return {"dataset": "mgsm_translated", "written": written}
