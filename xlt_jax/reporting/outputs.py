"""What every report section writes with: numbers as text, CSV files, file-name slugs.

Shared by `report` (the assembler) and the per-design sections (`pairwise`, `conditions`,
`polyglot`, `parallel`), so a number reads the same in every table and CSV.
"""

import csv
import io
import math
import re

from xlt_jax.core import atomic_io, paths
from xlt_jax.reporting import tables


def format_value(value, decimals: int = 2) -> str:
  """A float with `decimals` places ("n/a" for NaN); anything else as str()."""
  return tables.format_score(value, decimals) if isinstance(value, float) else str(value)


def csv_text(header: list, lines: list[list]) -> str:
  """CSV with "\\n" line ends; NaN cells are empty."""
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(header)
  writer.writerows([["" if isinstance(cell, float) and math.isnan(cell) else cell
                     for cell in line] for line in lines])
  return buffer.getvalue()


def write_csv(out_dir: str, name: str, header: list, lines: list[list],
              written: dict[str, str]) -> str:
  """Writes `out_dir/name.csv` atomically, records it in `written` under `name`, and
  returns the file's base name (for the table's `(CSV: ...)` note)."""
  path = paths.join(out_dir, f"{name}.csv")
  atomic_io.write_text(path, csv_text(header, lines))
  written[name] = path
  return paths.basename(path)


def slug(text: str) -> str:
  """A file-name-safe form of `text`."""
  return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
