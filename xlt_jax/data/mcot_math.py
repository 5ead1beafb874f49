"""mCoT-MATH: split the one ~11.6 GB JSON list per language, streaming (bounded memory).

Either release file works (tasks/formats/mcot_math.py): `mcot_math.json`, whose records
name the language `lang`, or `lang-id/mcot-math.json`, which names it `lang-id`.
"""

import collections
import hashlib
import json
import logging
from typing import TextIO

from tasks.formats import mcot_math, rows
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.json_list import stream_records
from xlt_jax.data.outputs import AtomicFiles
from xlt_jax.data.progress import Progress


def in_validation(index: int, seed: int, fraction: float) -> bool:
  """Whether record `index` is held out: a seeded hash, so the choice needs no pass over
  the file and is the same on every machine."""
  value = int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big")
  return value / 2**64 < fraction


def split_by_language(source: str, out_dir: str, *, validation_fraction: float = 0.001,
                      seed: int = 0, policy: rows.ReadPolicy = rows.DEFAULT_POLICY,
                      languages: tuple[str, ...] | None = None,
                      progress_stream: TextIO | None = None, **unused) -> dict:
  """Writes DATA_DIR/mcot_math/<split>/<lang>.jsonl from the official JSON list.

  Each line is the original record plus "index" (its position in the list).
  A record without a known language or without question/answer strings is
  malformed: reported by position, counted, and fatal above the policy's share
  (then nothing is written). With `languages`, records of the others are skipped
  (counted as "other_language"), and a requested language without any record fails
  with the language values the file has (nothing is written); without, languages the
  file lacks are listed in the summary's "no_records". Returns the summary also written
  to DATA_DIR/mcot_math/prepared.json (source sha256, counts per language x split).
  """
  del unused
  wanted = tuple(languages or mcot_math.LANGUAGES)
  if not 0.0 <= validation_fraction < 1.0:
    raise UserInputError(f"validation fraction must be in [0, 1), got {validation_fraction}")
  rows.require_file(source, "mCoT-MATH release (mcot_math.json)")
  progress = Progress("mcot_math", paths.getsize(source), progress_stream)
  problems = rows.RowProblems(policy, source)
  counts: dict[str, int] = {}
  values: collections.Counter = collections.Counter()  # the raw language field values
  skipped = 0
  file_summary: dict = {}
  with AtomicFiles() as outputs:
    for index, record in stream_records(source, progress, file_summary):
      problems.seen()
      raw = (mcot_math.first_string(record, mcot_math.LANGUAGE_FIELDS)
             if isinstance(record, dict) else None)
      values[raw if raw is not None else "(none)"] += 1
      language = mcot_math.record_language(record)
      if language not in mcot_math.LANGUAGES:
        problems.report(source, f"item {index}", f"language {raw!r} is not one of"
                        f" {', '.join(mcot_math.LANGUAGES)}")
        continue
      if language not in wanted:
        skipped += 1
        continue
      if (mcot_math.first_string(record, mcot_math.QUESTION_FIELDS) is None
          or mcot_math.first_string(record, mcot_math.ANSWER_FIELDS) is None):
        problems.report(source, f"item {index}", "no question or answer string")
        continue
      split = "validation" if in_validation(index, seed, validation_fraction) else "train"
      path = mcot_math.path(out_dir, language, split)
      outputs.open(path).write(json.dumps({**record, "index": index}, ensure_ascii=False) + "\n")
      counts[f"{split}/{language}"] = counts.get(f"{split}/{language}", 0) + 1
    problems.check()  # raising here leaves every output untouched
    missing = [language for language in wanted
               if not any(counts.get(f"{split}/{language}") for split in mcot_math.SPLITS)]
    seen = (f"{'/'.join(mcot_math.LANGUAGE_FIELDS)} values seen:"
            f" {rows.count_summary(values)}")
    if missing and languages:
      raise DataFormatError(f"mcot_math: no records of {', '.join(missing)} in {source}; {seen}")
    if missing:
      logging.warning("mcot_math: %s has no records of %s; %s", source, ", ".join(missing), seen)
    summary = {
        "dataset": "mcot_math", "source": paths.absolute(source), **file_summary,
        "licence": mcot_math.LICENCE, "source_url": mcot_math.SOURCE_URL,
        "records": problems.rows, "malformed": problems.count,
        "malformed_examples": problems.quoted, "filtered": {"other_language": skipped},
        "validation_fraction": validation_fraction, "no_records": missing,
        "seed": seed, "written": dict(sorted(counts.items())),
    }
  atomic_io.write_json(paths.join(out_dir, "mcot_math", "prepared.json"), summary)
  return summary


def prepare(out_dir: str, source: str | None, fetcher: Fetcher, **options) -> dict:
  """From --source (the official mcot_math.json) or the Hub release."""
  if source is None:
    source = fetcher.hub(mcot_math.HUB_REPO, mcot_math.HUB_FILE)
  return split_by_language(source, out_dir, **options)
