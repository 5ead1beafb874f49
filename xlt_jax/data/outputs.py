"""Several output files written at once, all or none: temporary files renamed at the end."""

import os
import shutil
import tempfile
from typing import TextIO

from xlt_jax.core import atomic_io, paths


class AtomicFiles:
  """Opens output files as temporaries; on a clean exit renames each onto its path.

  If the block raises, every temporary is removed and no output path changes:
  a reader sees either the old files or the complete new set, never a part. (On an
  object store, gs://, each rename is a copy: the new set appears file by file, each
  file whole.)
  """

  def __init__(self):
    self._open: dict[str, tuple[str, TextIO]] = {}

  def __enter__(self) -> "AtomicFiles":
    return self

  def open(self, path: str) -> TextIO:
    """The text handle for `path` (UTF-8), created on first use."""
    path = paths.absolute(path)
    if path not in self._open:
      directory = paths.dirname(path)
      if paths.is_local(path):
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory,
                                             prefix=".tmp-" + os.path.basename(path))
        self._open[path] = (temporary, os.fdopen(handle, "w", encoding="utf-8"))
      else:  # an object store: the temporary object is copied onto `path` at the end
        paths.makedirs(directory)
        temporary = paths.join(directory, f".tmp-{paths.basename(path)}-{os.urandom(6).hex()}")
        self._open[path] = (temporary, paths.open(temporary, "w", encoding="utf-8"))
    return self._open[path][1]

  @property
  def paths(self) -> list[str]:
    return sorted(self._open)

  def __exit__(self, error_type, error, traceback) -> None:
    try:
      for path, (temporary, file) in self._open.items():
        if error_type is None and paths.is_local(path):
          file.flush()
          os.fsync(file.fileno())
        file.close()
      if error_type is None:
        for path, (temporary, _) in self._open.items():
          paths.replace(temporary, path)
    finally:
      for temporary, _ in self._open.values():
        if paths.exists(temporary):
          paths.remove(temporary)


def copy_file(source: str, destination: str) -> str:
  """Copies `source` to `destination` atomically (temporary + rename); returns destination."""
  with paths.open(source, "rb") as file:
    atomic_io.write_atomically(destination, lambda output: shutil.copyfileobj(file, output, 1 << 20),
                               mode="wb")
  return destination
