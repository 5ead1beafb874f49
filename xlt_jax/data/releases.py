"""Datasets whose official files are used unchanged: fetch or copy them into DATA_DIR.

Each release is a list of files, each with where it comes from (a Hub dataset
file, a publisher URL, or only the user's --source) and where it goes under
DATA_DIR (the layout in tasks/formats/<format>.py). With --source DIR a file
is looked up as DIR/<its name in the release>; a directory release (LIMA
translations, API calling) is copied from DIR keeping its relative paths. X-CSQA
comes from the X-CSR zip or a folder of it (`prepare_xcsqa`), P3's AlpacaEval
translations are picked out of a checkout of P3's repository
(`prepare_alpaca_eval_translated`).
"""

import dataclasses
import fnmatch
import os
import re
import shutil
import zipfile

from tasks.formats import (
  alpaca_eval,
  mmmlu,
  oasst_human_translated,
  rows,
  tydiqa,
  xcsqa,
  xnli,
  xquad,
)
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file


@dataclasses.dataclass(frozen=True)
class ReleaseFile:
  """One file: `name` inside the Hub repository `hub_repo` or at `url`, stored at `destination`.

  A `name` with "*" matches the one Hub file of that pattern (hashed shard names).
  """

  name: str
  destination: str
  hub_repo: str | None = None
  url: str | None = None


RELEASES: dict[str, list[ReleaseFile]] = {
    "aya_dataset": [ReleaseFile(f"data/{split}-00000-of-00001.parquet",
                                f"aya_dataset/data/{split}-00000-of-00001.parquet",
                                hub_repo="CohereForAI/aya_dataset") for split in ("train", "test")],
    "lima": [ReleaseFile(f"{split}.jsonl", f"lima/{split}.jsonl", hub_repo="GAIR/lima")
             for split in ("train", "test")],
    "oasst": [ReleaseFile(f"data/{split}-*.parquet", f"oasst1/{split}.parquet",
                          hub_repo="OpenAssistant/oasst1") for split in ("train", "validation")],
    "alpaca_eval": [ReleaseFile("alpaca_eval.json", "alpaca_eval/alpaca_eval.json",
                                hub_repo="tatsu-lab/alpaca_eval")],
    "alpaca_farm": [ReleaseFile("alpaca_farm_evaluation.json",
                                "alpaca_farm/alpaca_farm_evaluation.json",
                                hub_repo="tatsu-lab/alpaca_farm")],
    "guanaco": [ReleaseFile(f"openassistant_best_replies_{split}.jsonl",
                            f"guanaco/openassistant_best_replies_{split}.jsonl",
                            hub_repo="timdettmers/openassistant-guanaco")
                for split in ("train", "eval")],
    "xquad": [ReleaseFile(f"xquad.{language}.json", f"xquad/xquad.{language}.json",
                          url=xquad.URL.format(language)) for language in xquad.LANGUAGES],
    "tydiqa": [ReleaseFile(tydiqa.file_name(split), f"tydiqa/{tydiqa.file_name(split)}",
                           url=tydiqa.URL.format(tydiqa.file_name(split)))
               for split in ("train", "dev")],
    "mmmlu": [ReleaseFile(mmmlu.hub_file(language), f"mmmlu/{mmmlu.hub_file(language)}",
                          hub_repo=mmmlu.HUB_REPO) for language in mmmlu.LANGUAGES],
    "oasst_human_translated": [
        ReleaseFile(oasst_human_translated.file_name(language),
                    f"oasst_human_translated/{oasst_human_translated.file_name(language)}",
                    url=oasst_human_translated.URL.format(oasst_human_translated.file_name(language)))
        for language in oasst_human_translated.LANGUAGES],
}

# Releases the user supplies as a directory in the layout's own shape:
# dataset -> the folder under DATA_DIR that --source DIR is copied into.
DIRECTORY_RELEASES = {
    "api_calling": "api_calling",  # <split>/<lang>.jsonl (P4 releases scripts, not files)
    "lima_translated": "lima/translated",  # <lang>/{train,test}.jsonl
    # alpaca_farm_evaluation_<lang>.json: P1's translations were never released.
    "alpaca_farm_translated_google": "variants/translated_google/alpaca_farm",
}


def _fetch(file: ReleaseFile, source: str | None, fetcher: Fetcher) -> str:
  if source is not None:
    if "*" in file.name:
      folder = paths.join(source, os.path.dirname(file.name))
      names = fnmatch.filter(paths.listdir(folder) if paths.isdir(folder) else [],
                             os.path.basename(file.name))
      if len(names) != 1:
        raise UserInputError(f"{source} needs exactly one {file.name}, found {len(names)}")
      return paths.join(folder, names[0])
    local = paths.join(source, file.name)
    if not paths.isfile(local):
      raise UserInputError(f"{source} has no {file.name} (the release's file)")
    return local
  if file.url:
    return fetcher.url(file.url)
  name = file.name
  if "*" in name:
    matches = fnmatch.filter(fetcher.list_files(file.hub_repo), name)
    if len(matches) != 1:
      raise UserInputError(f"{file.hub_repo} has {len(matches)} files matching {name}")
    name = matches[0]
  return fetcher.hub(file.hub_repo, name)


def prepare_files(dataset: str, out_dir: str, source: str | None, fetcher: Fetcher,
                  **unused) -> dict:
  """Copies every file of a release into DATA_DIR (atomically each)."""
  del unused
  written = [copy_file(_fetch(file, source, fetcher), paths.join(out_dir, file.destination))
             for file in RELEASES[dataset]]
  return {"dataset": dataset, "written": written}


def prepare_directory(dataset: str, out_dir: str, source: str | None, fetcher: Fetcher,
                      **unused) -> dict:
  """Copies the user's directory (in the layout's shape) into DATA_DIR."""
  del fetcher, unused
  if source is None or not paths.isdir(source):
    raise UserInputError(f"{dataset} is prepared from a local directory: pass --source DIR"
                         f" (see tasks/formats for its layout)")
  written = []
  for root, _, names in paths.walk(source):
    for name in sorted(names):
      if name.endswith((".json", ".jsonl")):
        relative = paths.relpath(paths.join(root, name), source)
        written.append(copy_file(paths.join(root, name),
                                 paths.join(out_dir, DIRECTORY_RELEASES[dataset], relative)))
  if not written:
    raise UserInputError(f"{source} holds no .json or .jsonl files for {dataset}")
  return {"dataset": dataset, "written": sorted(written)}


def prepare_xnli(out_dir: str, source: str | None, fetcher: Fetcher, **unused) -> dict:
  """DATA_DIR/xnli/xnli.{dev,test}.tsv from XNLI-1.0.zip (or a directory holding them)."""
  del unused
  archive = fetcher.url(xnli.URL) if source is None else source
  written = []
  for name in ("xnli.dev.tsv", "xnli.test.tsv"):
    destination = paths.join(out_dir, "xnli", name)
    if paths.isdir(archive):
      written.append(copy_file(paths.join(archive, name), destination))
      continue
    # zipfile reads archives by seeking: a gs:// archive is read from a local copy.
    with paths.local_file(archive) as local, zipfile.ZipFile(local) as release:
      members = [member for member in release.namelist() if member.endswith("/" + name)]
      if len(members) != 1:
        raise UserInputError(f"{archive} has no single {name}")
      with release.open(members[0]) as file:
        atomic_io.write_atomically(
            destination, lambda output: shutil.copyfileobj(file, output, 1 << 20), mode="wb")
      written.append(destination)
  return {"dataset": "xnli", "written": written}


_TRANSLATION_NAME = re.compile(r"alpaca_eval_instructions_([a-z]{2,3})\.json")


def prepare_alpaca_eval_translated(out_dir: str, source: str | None, fetcher: Fetcher,
                                   languages: tuple[str, ...] | None = None,
                                   policy: rows.ReadPolicy = rows.DEFAULT_POLICY,
                                   **unused) -> dict:
  """DATA_DIR/alpaca_eval/alpaca_eval_instructions_<lang>.json from P3's translations.

  `source` is a checkout of github.com/ZurichNLP/multilingual-instruction-tuning (or
  any directory holding the files): every `alpaca_eval_instructions_<lang>.json` under
  it is found (P3 keeps some in data/, some in data/alpaca_eval/; the model outputs in
  data/alpaca_eval_outputs/ have longer names and are not matched), read with the
  reader (JSON Lines, wrapping quotes) and copied flat. P3's English file is skipped:
  English is the official alpaca_eval.json (`prepare alpaca_eval`).

  Raises:
    UserInputError: no --source, no translation in it, or one language twice.
  """
  del fetcher, unused
  if source is None or not os.path.isdir(source):
    raise UserInputError("alpaca_eval_translated is prepared from a checkout of P3's"
                         " repository: pass --source DIR")
  wanted = tuple(languages or [code for code in alpaca_eval.LANGUAGES if code != "en"])
  found: dict[str, str] = {}
  for root, folders, names in os.walk(source):
    folders.sort()
    for name in sorted(names):
      match = _TRANSLATION_NAME.fullmatch(name)
      if not match or match.group(1) not in wanted:
        continue
      path = os.path.join(root, name)
      if match.group(1) in found:
        raise UserInputError(f"two AlpacaEval translations into {match.group(1)!r}:"
                             f" {found[match.group(1)]} and {path}")
      found[match.group(1)] = path
  if not found:
    raise UserInputError(f"{source} holds no alpaca_eval_instructions_<lang>.json for"
                         f" {', '.join(wanted)}")
  written, counts = [], {}
  for language, path in sorted(found.items()):
    counts[language] = len(alpaca_eval.load_translation(path, language, policy).examples)
    written.append(copy_file(path, alpaca_eval.path(out_dir, language, "test")))
  return {"dataset": "alpaca_eval_translated", "written": written, "instructions": counts}


def _xcsqa_root(source: str) -> str:
  """The X-CSQA folder inside `source`: itself, X-CSQA/ or X-CSR_datasets/X-CSQA/."""
  for candidate in ("", "X-CSQA", xcsqa.RELEASE_DIRECTORY):
    root = os.path.join(source, candidate)
    if os.path.isdir(os.path.join(root, xcsqa.folder("en"))):
      return root
  raise UserInputError(f"{source} is not the X-CSR release: no en/ folder in it, in X-CSQA/"
                       f" or in {xcsqa.RELEASE_DIRECTORY}/")


def prepare_xcsqa(out_dir: str, source: str | None, fetcher: Fetcher,
                  languages: tuple[str, ...] | None = None, **unused) -> dict:
  """DATA_DIR/xcsqa/<folder>/{dev,test}.jsonl from the X-CSR release.

  `source` is the release zip (xcsr_datasets.zip), the extracted X-CSR_datasets folder
  or its X-CSQA folder; without it the zip is downloaded from the URL the Hugging Face
  loader uses. The release's folder names are kept (Japanese is `jap`; see
  tasks/formats/xcsqa.py), only dev and test are copied.

  Raises:
    UserInputError: the source is not the release, or lacks a language's files.
  """
  del unused
  archive = fetcher.url(xcsqa.RELEASE_URL) if source is None else source
  files = {(language, split): f"{xcsqa.folder(language)}/{xcsqa.file_name(split)}"
           for language in languages or xcsqa.LANGUAGES for split in xcsqa.SPLITS}
  written = []
  if os.path.isdir(archive):
    root = _xcsqa_root(archive)
    for (language, _), relative in files.items():  # every file checked before any copy
      if not os.path.isfile(os.path.join(root, relative)):
        raise UserInputError(f"{root} has no {relative} (X-CSQA {language})")
    for (language, split), relative in files.items():
      written.append(copy_file(os.path.join(root, relative),
                               xcsqa.path(out_dir, language, split)))
    return {"dataset": "xcsqa", "written": written}
  if not zipfile.is_zipfile(archive):
    raise UserInputError(f"{archive} is neither a folder of the X-CSR release nor its zip")
  with zipfile.ZipFile(archive) as release:
    names = set(release.namelist())
    for (language, _), relative in files.items():
      if f"{xcsqa.RELEASE_DIRECTORY}/{relative}" not in names:
        raise UserInputError(f"{archive} has no {xcsqa.RELEASE_DIRECTORY}/{relative}"
                             f" (X-CSQA {language})")
    for (language, split), relative in files.items():
      destination = xcsqa.path(out_dir, language, split)
      os.makedirs(os.path.dirname(destination), exist_ok=True)
      temporary = destination + ".partial"
      with release.open(f"{xcsqa.RELEASE_DIRECTORY}/{relative}") as file, \
          open(temporary, "wb") as output:
        for block in iter(lambda: file.read(1 << 20), b""):
          output.write(block)
      os.replace(temporary, destination)
      written.append(destination)
  return {"dataset": "xcsqa", "written": written}
