"""Streams the records of a huge JSON list (bounded memory), hashing and counting bytes."""

import hashlib
from typing import Any, BinaryIO, Iterator

import ijson

from xlt_jax.core import paths
from xlt_jax.core.errors import DataFormatError
from xlt_jax.data.progress import Progress


class HashingReader:
  """A binary reader that counts and sha256-hashes every byte read through it."""

  def __init__(self, file: BinaryIO):
    self.file = file
    self.bytes_read = 0
    self.digest = hashlib.sha256()

  def read(self, size: int = -1) -> bytes:
    block = self.file.read(size)
    self.bytes_read += len(block)
    self.digest.update(block)
    return block

  def finish(self) -> str:
    """Reads what the parser left (trailing whitespace) and returns the file's sha256."""
    while self.read(1 << 16):
      pass
    return self.digest.hexdigest()


def stream_records(path: str, progress: Progress, summary: dict) -> Iterator[tuple[int, Any]]:
  """(0-based index, record) for each element of the JSON list in `path`, in order.

  Memory stays bounded by one record plus the parser's buffer, whatever the file
  size. Numbers arrive as int/float (never Decimal). After the last record,
  `summary` holds "sha256" and "bytes" of the whole file.

  Raises:
    DataFormatError: the file is not a JSON list (names the file and byte offset).
  """
  with paths.open(path, "rb") as file:
    reader = HashingReader(file)
    index = -1
    try:
      for index, record in enumerate(ijson.items(reader, "item", use_float=True)):
        if index % 1000 == 0:
          progress.update(index, reader.bytes_read)
        yield index, record
    except ijson.JSONError as error:
      raise DataFormatError(f"{path}: not a valid JSON list near byte {reader.bytes_read}"
                            f" ({error})") from None
    summary["sha256"] = reader.finish()
    summary["bytes"] = paths.getsize(path)
    progress.update(index + 1, reader.bytes_read, force=True)
