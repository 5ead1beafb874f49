"""Reading the JSON-lines files this project writes (predictions, judgments)."""

import json
from collections.abc import Iterator
from typing import Any

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError


def read_json_lines(path: str) -> Iterator[tuple[int, Any]]:
  """(1-based line number, parsed value) for every non-blank line of `path`.

  Raises:
    UserInputError: a line is not JSON, naming the file and line.
  """
  with paths.open(path, encoding="utf-8") as file:
    for number, line in enumerate(file, start=1):
      if not line.strip():
        continue
      try:
        yield number, json.loads(line)
      except json.JSONDecodeError:
        raise UserInputError(f"{path}:{number}: not a JSON line") from None
