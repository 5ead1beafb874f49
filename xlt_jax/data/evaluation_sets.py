"""P2's evaluation sets whose releases are archives or many files: CMMLU, C-Eval, Okapi MMLU.

Each preparer writes the layout of its reader (tasks/formats/<name>.py) from the official
release, downloaded through the `Fetcher` or taken from --source, and reads what it wrote
back with the reader before returning, so a release in another shape fails here, naming
the file, rather than at evaluation time. (TyDi QA, MMMLU and the translated OASST
questions are plain file lists: `releases.RELEASES`.)
"""

import fnmatch
import zipfile

from tasks.formats import ceval, cmmlu, okapi_mmlu, rows
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file


def _copy_member(release: zipfile.ZipFile, member: str, destination: str) -> str:
  with release.open(member) as file:
    atomic_io.write_atomically(destination, lambda output: output.write(file.read()), mode="wb")
  return destination


def prepare_cmmlu(out_dir: str, source: str | None, fetcher: Fetcher,
                  policy: rows.ReadPolicy = rows.DEFAULT_POLICY, **unused) -> dict:
  """DATA_DIR/cmmlu/{dev,test}/<subject>.csv from cmmlu_v1_0_1.zip (or its extracted folder).

  Without --source the archive comes from the Hub dataset haonan-li/cmmlu. Every one of
  the 67 subjects' dev and test files must be in it (checked before anything is copied).
  """
  del unused
  archive = fetcher.hub(cmmlu.HUB_REPO, cmmlu.HUB_ARCHIVE) if source is None else source
  wanted = [f"{folder}/{subject}.csv" for folder in cmmlu.FOLDERS
            for subject in cmmlu.CMMLU_SUBJECTS]
  written = []
  if paths.isdir(archive):
    missing = [name for name in wanted if not paths.isfile(paths.join(archive, name))]
    if missing:
      raise UserInputError(f"{archive} is not the CMMLU release: it lacks {', '.join(missing[:3])}"
                           f" ({len(missing)} files missing)")
    for name in wanted:
      written.append(copy_file(paths.join(archive, name),
                               paths.join(out_dir, "cmmlu", *name.split("/"))))
  else:
    with paths.local_file(archive) as local:
      if not zipfile.is_zipfile(local):
        raise UserInputError(f"{archive} is neither {cmmlu.HUB_ARCHIVE} nor a folder of it")
      with zipfile.ZipFile(local) as release:
        members = set(release.namelist())  # dev/ and test/ at the archive's root
        missing = [name for name in wanted if name not in members]
        if missing:
          raise UserInputError(f"{archive} is not the CMMLU release: it lacks"
                               f" {', '.join(missing[:3])} ({len(missing)} files missing)")
        for name in wanted:
          written.append(_copy_member(release, name,
                                      paths.join(out_dir, "cmmlu", *name.split("/"))))
  examples = cmmlu.load(out_dir, "zh", "test", policy).examples
  return {"dataset": "cmmlu", "written": written, "questions": len(examples)}


def _ceval_hub_names(fetcher: Fetcher) -> dict[tuple[str, str], str]:
  """(subject, dev|val) -> the Hub file `<subject>/<split>-*.parquet` (one listing)."""
  files = fetcher.list_files(ceval.HUB_REPO)
  found = {}
  for subject in ceval.CEVAL_SUBJECTS:
    for split in ceval.HUB_SPLITS:
      matches = fnmatch.filter(files, f"{subject}/{split}-*.parquet")
      if len(matches) != 1:
        raise UserInputError(f"{ceval.HUB_REPO} has {len(matches)} files matching"
                             f" {subject}/{split}-*.parquet")
      found[(subject, split)] = matches[0]
  return found


def prepare_ceval(out_dir: str, source: str | None, fetcher: Fetcher,
                  policy: rows.ReadPolicy = rows.DEFAULT_POLICY, **unused) -> dict:
  """DATA_DIR/ceval/<subject>/{dev,val}.parquet from the Hub dataset ceval/ceval-exam.

  `source` is a snapshot of the Hub repository (its `<subject>/<split>-*.parquet` files);
  without it the files are listed once and downloaded. Test is not copied: its answers
  are hidden.
  """
  del unused
  if source is None:
    located = {key: fetcher.hub(ceval.HUB_REPO, name)
               for key, name in _ceval_hub_names(fetcher).items()}
  else:
    located = {}
    for subject in ceval.CEVAL_SUBJECTS:
      for split in ceval.HUB_SPLITS:
        folder = paths.join(source, subject)
        names = fnmatch.filter(paths.listdir(folder) if paths.isdir(folder) else [],
                               f"{split}-*.parquet")
        if len(names) != 1:
          raise UserInputError(f"{source} is not a snapshot of {ceval.HUB_REPO}: {len(names)}"
                               f" files match {subject}/{split}-*.parquet")
        located[(subject, split)] = paths.join(folder, names[0])
  written = [copy_file(local, ceval.subject_path(out_dir, subject, split))
             for (subject, split), local in located.items()]
  examples = ceval.load(out_dir, "zh", "validation", policy).examples
  return {"dataset": "ceval", "written": written, "questions": len(examples)}


def prepare_okapi_mmlu(out_dir: str, source: str | None, fetcher: Fetcher,
                       languages: tuple[str, ...] | None = None,
                       policy: rows.ReadPolicy = rows.DEFAULT_POLICY, **unused) -> dict:
  """DATA_DIR/okapi_mmlu/<lang>_{dev,test}.json from Okapi's m_mmlu folder (or --source)."""
  del unused
  written, counts = [], {}
  for language in languages or okapi_mmlu.LANGUAGES:
    for split in okapi_mmlu.RELEASE_SPLITS:
      name = okapi_mmlu.file_name(language, split)
      if source is None:
        local = fetcher.url(okapi_mmlu.URL.format(name))
      else:
        local = paths.join(source, name)
        if not paths.isfile(local):
          raise UserInputError(f"{source} has no {name} (Okapi's m_mmlu release file)")
      written.append(copy_file(local, okapi_mmlu.release_path(out_dir, language, split)))
    counts[language] = len(okapi_mmlu.load(out_dir, language, "test", policy).examples)
  return {"dataset": "okapi_mmlu", "written": written, "questions": counts}

