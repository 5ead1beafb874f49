"""The one file layer: every read and write under MODEL_DIR, DATA_DIR, checkpoint,
tokenizer and converted-model directories goes through these functions.

A path is a string: a local path, or a URL of an object store such as
`gs://bucket/dir` (also `s3://`, `az://`, `hf://`). Local paths take exactly the code
paths they always took (`os`, `shutil`, builtin `open`); only URLs go to the store.
`os.path` must not see a URL: `os.path.abspath("gs://b/x")` is `./gs:/b/x`, a local
folder on each worker, which is what a gs:// MODEL_DIR used to become.

Backend: `etils.epath`, the layer orbax-checkpoint uses for its own directory work, so
our files and orbax's always agree on which filesystem a URL means. epath hands `gs://`
to `tf.io.gfile` when TensorFlow is installed (it is: tf.data, seqio) and to fsspec
(gcsfs) otherwise or with `EPATH_USE_TF=0`. tf.io.gfile was the alternative; going through
epath keeps the choice in one place shared with orbax, while TensorBoard
(`tf.summary`) and seqio's vocabularies reach the same TensorFlow filesystem directly.

Object stores have no directories and no atomic rename: `makedirs` creates placeholder
objects (or nothing), and `rename`/`replace` is a server-side copy followed by a delete.
`write_atomically` still writes a temporary object beside the target and renames it:
an object appears only when its upload is complete, so a reader that looks only at
final names sees either the previous object or the complete new one, never a partial
one. What it does not give on a store: a crash between the copy and the delete leaves
a `.tmp-*` object beside the complete one (ignored by every reader), and renaming a
directory copies its objects one at a time, so a reader may see it half moved.
"""

import builtins
import contextlib
import errno
import io
import os
import posixpath
import re
import shutil
import tempfile
from typing import IO, Any, Callable, Iterator

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_local(path: str) -> bool:
  """True for a local path, False for a URL (`gs://bucket/x`)."""
  return not _URL.match(os.fspath(path))


def _epath(path: str):
  from etils import epath  # imported on first use of a URL: binaries' --help stays light

  return epath.Path(path)


def absolute(path: str) -> str:
  """`os.path.abspath` for a local path; a URL unchanged (less a trailing '/')."""
  path = os.fspath(path)
  if is_local(path):
    return os.path.abspath(path)
  return path.rstrip("/") if not path.endswith("://") else path


def join(path: str, *parts: str) -> str:
  """Joins path components (`os.path.join` locally, '/' in a URL)."""
  if is_local(path):
    return os.path.join(path, *parts)
  return posixpath.join(path, *parts)


def dirname(path: str) -> str:
  """The parent of `path` (a URL keeps its scheme and bucket)."""
  return os.path.dirname(path) if is_local(path) else posixpath.dirname(path.rstrip("/"))


def basename(path: str) -> str:
  """The last component of `path`."""
  return os.path.basename(path) if is_local(path) else posixpath.basename(path.rstrip("/"))


def relpath(path: str, start: str) -> str:
  """`path` relative to directory `start` (which must contain it when a URL)."""
  if is_local(path):
    return os.path.relpath(path, start)
  if path.rstrip("/") == start.rstrip("/"):
    return "."
  prefix = start.rstrip("/") + "/"
  if not path.startswith(prefix):
    raise ValueError(f"{path} is not under {start}")
  return path[len(prefix):]


def exists(path: str) -> bool:
  """True when a file or directory exists at `path`."""
  return os.path.exists(path) if is_local(path) else _epath(path).exists()


def isdir(path: str) -> bool:
  """True for a directory (on a store: a prefix with objects under it, or a placeholder)."""
  return os.path.isdir(path) if is_local(path) else _epath(path).is_dir()


def isfile(path: str) -> bool:
  """True for a file (on a store: an object that is not a directory)."""
  if is_local(path):
    return os.path.isfile(path)
  remote = _epath(path)
  return remote.exists() and not remote.is_dir()


def getsize(path: str) -> int:
  """The size of the file at `path` in bytes."""
  return os.path.getsize(path) if is_local(path) else int(_epath(path).stat().length)


def makedirs(path: str) -> None:
  """Creates `path` and its parents; an existing directory is fine."""
  if is_local(path):
    os.makedirs(path, exist_ok=True)
  else:
    _epath(path).mkdir(parents=True, exist_ok=True)


def listdir(path: str) -> list[str]:
  """The names of the entries of directory `path` (sorted, no trailing '/')."""
  if is_local(path):
    return sorted(os.listdir(path))
  return sorted({child.name for child in _epath(path).iterdir() if child.name})


def glob(pattern: str) -> list[str]:
  """The paths matching `pattern` (`*` and `?` within one component), sorted."""
  if is_local(pattern):
    import glob as glob_module

    return sorted(glob_module.glob(pattern))
  from etils import epath

  root = pattern
  while any(character in basename(root) for character in "*?["):
    root = dirname(root)
  if root == pattern:
    return [pattern] if exists(pattern) else []
  relative = pattern[len(root):].lstrip("/")
  return sorted(str(match) for match in epath.Path(root).glob(relative))


def walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
  """Like `os.walk`: (directory, subdirectory names, file names), top down."""
  if is_local(top):
    yield from os.walk(top)
    return
  for root, directories, files in _epath(top).walk():
    yield str(root), [d.rstrip("/") for d in directories], list(files)


def open(path: str, mode: str = "r", *, encoding: str | None = None,  # noqa: A001
         newline: str | None = None) -> IO[Any]:
  """Opens `path` like builtin `open` (text modes default to UTF-8).

  Modes: r, w, a, each with an optional b. On a store a text file is the store's binary
  stream under `io.TextIOWrapper`, so encodings and newlines behave as locally; writes
  become visible when the file is flushed or closed.

  Raises:
    FileNotFoundError: reading a file that does not exist.
  """
  text = "b" not in mode
  if text and encoding is None:
    encoding = "utf-8"
  if is_local(path):
    if text:
      return builtins.open(path, mode, encoding=encoding, newline=newline)
    return builtins.open(path, mode)
  if mode.replace("b", "") not in ("r", "w", "a"):
    raise ValueError(f"mode {mode!r} is not supported for {path}")
  if "r" in mode and not isfile(path):
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
  raw = _RemoteFile(path, mode.replace("b", "") + "b")
  # Reads go through a buffer (readline and iteration would otherwise read byte by
  # byte); writes go straight to the store's file, so that flush() reaches the store.
  binary = io.BufferedReader(raw, 1 << 20) if "r" in mode else raw
  if not text:
    return binary
  return io.TextIOWrapper(binary, encoding=encoding, newline=newline)


class _RemoteFile(io.RawIOBase):
  """A store's file (whatever epath's backend returns) as a standard raw stream."""

  def __init__(self, path: str, mode: str):
    super().__init__()
    self.name = path
    self._mode = mode
    self._stack = contextlib.ExitStack()
    # epath's TensorFlow backend returns a context manager, fsspec a file: enter either.
    self._file = self._stack.enter_context(_epath(path).open(mode))

  def readable(self) -> bool:
    return "r" in self._mode

  def writable(self) -> bool:
    return "w" in self._mode or "a" in self._mode

  def seekable(self) -> bool:
    return self.readable() and hasattr(self._file, "seek")

  def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
    self._file.seek(offset, whence)
    return self._file.tell()

  def tell(self) -> int:
    return self._file.tell()

  def readinto(self, buffer) -> int:
    data = self._file.read(len(buffer))
    buffer[:len(data)] = data
    return len(data)

  def write(self, data) -> int:
    self._file.write(bytes(data))
    return len(data)

  def flush(self) -> None:
    if not self.closed and self.writable():
      self._file.flush()

  def close(self) -> None:
    if not self.closed:
      try:
        self.flush()
        self._stack.close()
      finally:
        super().close()


def read_text(path: str) -> str:
  """The UTF-8 text of the file at `path`."""
  with open(path, encoding="utf-8") as file:
    return file.read()


def read_bytes(path: str) -> bytes:
  """The bytes of the file at `path`."""
  with open(path, "rb") as file:
    return file.read()


def remove(path: str) -> None:
  """Deletes the file at `path`."""
  if is_local(path):
    os.remove(path)
  else:
    _epath(path).unlink()


def rmtree(path: str) -> None:
  """Deletes directory `path` and everything under it."""
  if is_local(path):
    shutil.rmtree(path)
  else:
    _epath(path).rmtree()


def rename(source: str, destination: str) -> None:
  """Moves a file or directory; `destination` must not exist (on a store: copy, delete)."""
  if is_local(source) and is_local(destination):
    os.rename(source, destination)
  else:
    _epath(source).rename(destination)


def replace(source: str, destination: str) -> None:
  """Moves file `source` onto `destination`, replacing it (on a store: copy, delete)."""
  if is_local(source) and is_local(destination):
    os.replace(source, destination)
  else:
    _epath(source).replace(destination)


def copy(source: str, destination: str) -> None:
  """Copies file `source` to `destination` (replacing it), across filesystems too."""
  if is_local(source) and is_local(destination):
    shutil.copyfile(source, destination)
    return
  if is_local(source) or is_local(destination):
    with open(source, "rb") as reader, open(destination, "wb") as writer:
      shutil.copyfileobj(reader, writer, 1 << 20)
    return
  _epath(source).copy(destination, overwrite=True)


@contextlib.contextmanager
def local_file(path: str) -> Iterator[str]:
  """A local path holding the content of file `path`: `path` itself when local, else a
  temporary copy deleted on exit. For libraries that read only local files."""
  if is_local(path):
    yield path
    return
  with tempfile.TemporaryDirectory(prefix="xlt_remote_") as directory:
    local = os.path.join(directory, basename(path))
    copy(path, local)
    yield local


@contextlib.contextmanager
def local_output(path: str) -> Iterator[str]:
  """A local path to write a file that belongs at `path`: `path` itself when local, else
  a temporary file copied to `path` when the block succeeds. For libraries that write
  only local files."""
  if is_local(path):
    yield path
    return
  with tempfile.TemporaryDirectory(prefix="xlt_remote_") as directory:
    local = os.path.join(directory, basename(path))
    yield local
    copy(local, path)


def write_atomically(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
  """Writes `path` by calling `write(file)` on a temporary file beside it, then renaming it.

  Locally the temporary file is fsynced and `os.replace`d: atomic on POSIX, so a crash
  mid-write never leaves a truncated file at `path`. On a store the temporary object is
  complete before it is copied to `path` (see the module docstring for the guarantee).
  """
  if not is_local(path):
    _write_remote_atomically(path, write, mode)
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  handle, temporary_path = tempfile.mkstemp(dir=directory, prefix=".tmp-" + os.path.basename(path))
  try:
    with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
      write(file)
      file.flush()
      os.fsync(file.fileno())
    os.replace(temporary_path, path)
  except BaseException:
    if os.path.exists(temporary_path):
      os.remove(temporary_path)
    raise


def _write_remote_atomically(path: str, write: Callable[[Any], None], mode: str) -> None:
  directory = dirname(path)
  makedirs(directory)
  temporary_path = join(directory, f".tmp-{basename(path)}-{os.urandom(6).hex()}")
  try:
    with open(temporary_path, mode) as file:
      write(file)
    replace(temporary_path, path)
  except BaseException:
    with contextlib.suppress(Exception):
      if exists(temporary_path):
        remove(temporary_path)
    raise
