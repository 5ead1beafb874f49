"""ShareGPT: the official conversation dump split per language of its first prompt.

The release (`ShareGPT_V3_unfiltered_cleaned_split.json`, ~670 MB) is one JSON
list; it is streamed. Each conversation goes to
DATA_DIR/sharegpt/train/<lang>.json (official ShareGPT format) by the language
py3langid identifies in its first human turn, when that language is one of the
dataset's and the probability reaches the policy's min_language_confidence;
the others are counted by reason in DATA_DIR/sharegpt/prepared.json.
The user then adds <lang>.completions.jsonl from their own generator (see
tasks/formats/sharegpt.py).
"""

import json
from typing import TextIO

from tasks.formats import language_id, rows, sharegpt
from xlt_jax.core import atomic_io, paths
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.json_list import stream_records
from xlt_jax.data.outputs import AtomicFiles
from xlt_jax.data.progress import Progress


def split_by_language(source: str, out_dir: str, *,
                      policy: rows.ReadPolicy = rows.DEFAULT_POLICY,
                      languages: tuple[str, ...] | None = None,
                      progress_stream: TextIO | None = None, **unused) -> dict:
  """Writes DATA_DIR/sharegpt/train/<lang>.json; returns the summary it also saves."""
  del unused
  wanted = tuple(languages or sharegpt.LANGUAGES)
  rows.require_file(source, "ShareGPT release")
  progress = Progress("sharegpt", paths.getsize(source), progress_stream)
  problems = rows.RowProblems(policy, source)
  counts: dict[str, int] = {}
  filtered = {"no_human_turn": 0, "other_language": 0, "low_language_confidence": 0}
  file_summary: dict = {}
  with AtomicFiles() as outputs:
    for index, record in stream_records(source, progress, file_summary):
      problems.seen()
      parsed = sharegpt.parse_turns(record)
      if isinstance(parsed, str):
        problems.report(source, f"item {index}", parsed)
        continue
      prompts = [turn["content"] for turn in parsed[1] if turn["role"] == "user"]
      if not prompts or not prompts[0].strip():
        filtered["no_human_turn"] += 1
        continue
      language, probability = language_id.identify(prompts[0])
      if language not in wanted:
        filtered["other_language"] += 1
        continue
      if probability < policy.min_language_confidence:
        filtered["low_language_confidence"] += 1
        continue
      file = outputs.open(sharegpt.path(out_dir, language, "train"))
      file.write(("[\n" if language not in counts else ",\n")
                 + json.dumps(record, ensure_ascii=False))
      counts[language] = counts.get(language, 0) + 1
    for language in counts:
      outputs.open(sharegpt.path(out_dir, language, "train")).write("\n]\n")
    problems.check()
    summary = {
        "dataset": "sharegpt", "source": paths.absolute(source), **file_summary,
        "licence": sharegpt.LICENCE, "source_url": sharegpt.SOURCE_URL,
        "records": problems.rows, "malformed": problems.count,
        "malformed_examples": problems.quoted, "filtered": filtered,
        "min_language_confidence": policy.min_language_confidence,
        "written": dict(sorted(counts.items())),
    }
  atomic_io.write_json(paths.join(out_dir, "sharegpt", "prepared.json"), summary)
  return summary


def prepare(out_dir: str, source: str | None, fetcher: Fetcher, **options) -> dict:
  """From --source (a ShareGPT JSON list) or the Hub copy of the release."""
  if source is None:
    source = fetcher.hub(sharegpt.HUB_REPO, sharegpt.HUB_FILE)
  return split_by_language(source, out_dir, **options)
