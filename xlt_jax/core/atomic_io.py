"""Atomic file writes: a reader sees either the old file or the complete new one."""

import json
from typing import Any, Callable

from xlt_jax.core import paths


def write_atomically(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
  """Writes `path` by calling `write(file)` on a temporary file, then renaming it.

  Locally the rename is atomic on POSIX filesystems, so a crash mid-write never leaves
  a truncated file at `path`; `path` may also be a URL (`gs://...`), see
  `xlt_jax.core.paths.write_atomically` for what an object store guarantees.
  """
  paths.write_atomically(path, write, mode)


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically."""
  write_atomically(path, lambda file: file.write(text))


def write_json(path: str, value: Any) -> None:
  """Writes `value` as indented UTF-8 JSON to `path` atomically."""
  write_text(path, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: str, rows: list[dict]) -> None:
  """Writes one JSON object per line to `path` atomically."""
  write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
