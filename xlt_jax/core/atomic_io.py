"""Atomic file writes: a reader sees either the old file or the complete new one."""

import json
import os
import tempfile
from typing import Any, Callable


def write_atomically(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
  """Writes `path` by calling `write(file)` on a temporary file, then renaming it.

  The rename is atomic on POSIX filesystems, so a crash mid-write never leaves
  a truncated file at `path`.
  """
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


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically."""
  write_atomically(path, lambda file: file.write(text))


def write_json(path: str, value: Any) -> None:
  """Writes `value` as indented UTF-8 JSON to `path` atomically."""
  write_text(path, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: str, rows: list[dict]) -> None:
  """Writes one JSON object per line to `path` atomically."""
  write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
