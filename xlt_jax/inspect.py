"""What a mixture contains: counts per task and language, token lengths, decoded examples.

    python -m xlt_jax.inspect [--json]                     # every catalogued mixture
    python -m xlt_jax.inspect MIXTURE --data_dir=DIR [--tokenizer=PATH] [--examples=2] [--json]

The examples are read through the same seqio tasks a training run reads (the run's
manifest, tokenized), so the counts are what would be trained on. Token lengths
include the EOS that seqio appends. Without --tokenizer, a SentencePiece model
(unigram, byte fallback, at most 2,000 pieces) is trained on up to 20,000 of the
mixture's texts in a temporary directory: lengths are then in that tokenizer's pieces,
a rough guide, not a model's true lengths. Character lengths are always reported.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError

TRAINED_VOCAB_SIZE = 2000
TRAINING_TEXT_LIMIT = 20_000


def list_mixtures() -> list[dict]:
  """Every catalogued mixture with its study, run, size and languages (no data read)."""
  from tasks import catalogue

  rows = []
  for name in catalogue.mixture_names():
    design, plan = catalogue.design_for(name), catalogue.plan_for(name)
    rows.append({"mixture": name, "study": design.name, "run": plan.name, "total": plan.total,
                 "languages": sorted(plan.train_counts), "datasets": sorted(plan.counts)})
  return rows


def load_tokenizer(path: str, eos_token: str | None = None):
  """A seqio vocabulary from a SentencePiece `.model` or a Hugging Face `tokenizer.json`."""
  from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
  from xlt_jax.models.tokenizer import load_vocabulary

  if not paths.isfile(path):
    raise UserInputError(f"tokenizer {path} does not exist")
  if not path.endswith(".json"):
    return load_vocabulary(path)
  if eos_token is None:
    raise UserInputError(f"tokenizer {path} is a tokenizer.json: name its end-of-sequence token"
                         " with --eos_token")
  return HuggingFaceVocabulary(path, eos_token=eos_token)


def _training_texts(manifest: dict, data_dir: str) -> list[str]:
  from tasks import datasets

  texts = []
  for entry in manifest["train"]:
    wanted = set(entry["ids"])
    for example in datasets.read_examples(entry["dataset"], data_dir, entry["language"],
                                          entry["split"]):
      if example["id"] in wanted:
        texts += [example["inputs"], example["targets"]]
  # An evenly spaced sample keeps every language represented.
  step = max(1, len(texts) // TRAINING_TEXT_LIMIT)
  return texts[::step][:TRAINING_TEXT_LIMIT]


def _statistics(lengths: list[int]) -> dict[str, float]:
  if not lengths:
    return {"mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0}
  values = np.asarray(lengths)
  return {"mean": round(float(values.mean()), 1), "median": float(np.median(values)),
          "p95": float(np.percentile(values, 95)), "max": int(values.max())}


def _described(lengths: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, dict]]:
  """language -> feature -> statistics of the lengths."""
  return {language: {feature: _statistics(values) for feature, values in features.items()}
          for language, features in lengths.items()}


def _read_task(entry: dict, vocabulary, examples_to_keep: int):
  """(count, token lengths, character lengths, decoded examples) of one registered task."""
  import seqio

  task = seqio.get_mixture_or_task(entry["task"])
  dataset = task.get_dataset(sequence_length=None, split=entry["split"], shuffle=False,
                             num_epochs=1)
  count, kept = 0, []
  tokens = {"inputs": [], "targets": []}
  characters = {"inputs": [], "targets": []}
  for example in dataset.as_numpy_iterator():
    count += 1
    for feature in ("inputs", "targets"):
      tokens[feature].append(len(example[feature]))
      characters[feature].append(len(example[f"{feature}_pretokenized"].decode("utf-8")))
    if len(kept) < examples_to_keep:
      kept.append({feature: vocabulary.decode(example[feature][:-1].tolist())
                   for feature in ("inputs", "targets")} | {"id": example["id"].decode()})
  return count, tokens, characters, kept


def inspect_mixture(name: str, data_dir: str, tokenizer: str | None = None,
                    eos_token: str | None = None, examples_per_language: int = 2,
                    progress=sys.stderr) -> dict:
  """Registers mixture `name` on data_dir and describes it (see the module docstring).

  Returns:
    A JSON-ready dict: mixture, study, run, seed, tokenizer, tasks (task, dataset,
    language, split, count), languages (language -> training examples), validation
    (task, language, count), token_lengths and character_lengths (language -> inputs /
    targets -> mean, median, p95, max) and examples (language -> decoded examples).

  Raises:
    UserInputError: unknown mixture (with near matches), dataset or language, missing
      data, a budget larger than the data, or an unreadable tokenizer.
  """
  from tasks import catalogue, mixtures, selection
  from xlt_jax.models.tokenizer import load_vocabulary, train_sentencepiece

  design, plan = catalogue.design_for(name), catalogue.plan_for(name)
  data_dir = paths.absolute(data_dir)
  manifest = selection.select_run(plan, data_dir)
  with tempfile.TemporaryDirectory(prefix="xlt_inspect_") as work_dir:
    if tokenizer is None:
      texts = _training_texts(manifest, data_dir)
      print(f"training a SentencePiece tokenizer on {len(texts)} texts of {name}", file=progress)
      model = train_sentencepiece(texts, os.path.join(work_dir, "spm.model"), TRAINED_VOCAB_SIZE)
      vocabulary = load_vocabulary(model)
      tokenizer_record = {"path": None, "vocab_size": vocabulary.vocab_size,
                          "description": f"SentencePiece trained on {len(texts)} texts of the"
                                         " mixture (pieces, not a model's tokens)"}
    else:
      vocabulary = load_tokenizer(tokenizer, eos_token)
      tokenizer_record = {"path": paths.absolute(tokenizer), "vocab_size": vocabulary.vocab_size,
                          "description": "the given tokenizer"}
    mixtures.register_run(plan, manifest, data_dir, vocabulary)
    tasks, languages, examples = [], {}, {}
    tokens: dict[str, dict[str, list[int]]] = {}
    characters: dict[str, dict[str, list[int]]] = {}
    for index, entry in enumerate(manifest["train"], start=1):
      print(f"reading {entry['task']} ({index}/{len(manifest['train'])})", file=progress)
      language = entry["language"]
      keep = examples_per_language - len(examples.get(language, []))
      count, task_tokens, task_characters, kept = _read_task(entry, vocabulary, keep)
      tasks.append({key: entry[key] for key in ("task", "dataset", "language", "split")}
                   | {"count": count})
      languages[language] = languages.get(language, 0) + count
      examples.setdefault(language, []).extend(kept)
      for feature in ("inputs", "targets"):
        tokens.setdefault(language, {"inputs": [], "targets": []})[feature] += task_tokens[feature]
        characters.setdefault(language, {"inputs": [], "targets": []})[feature] += (
            task_characters[feature])
  return {
      "mixture": name, "validation_mixture": plan.validation_mixture, "study": design.name,
      "run": plan.name, "seed": plan.seed, "total": sum(languages.values()),
      "tokenizer": tokenizer_record, "tasks": tasks, "languages": languages,
      "validation": [{"task": e["task"], "language": e["language"], "count": e["count"]}
                     for e in manifest["validation"]],
      "token_lengths": _described(tokens),
      "character_lengths": _described(characters),
      "examples": examples,
  }


def _shorten(text: str, limit: int = 160) -> str:
  text = " ".join(text.split())
  return text if len(text) <= limit else text[:limit - 3] + "..."


def format_summary(summary: dict) -> str:
  """The human-readable form of `inspect_mixture`'s result."""
  lines = [f"mixture {summary['mixture']} (study {summary['study']}, run {summary['run']},"
           f" seed {summary['seed']}): {summary['total']} training examples",
           f"tokenizer: {summary['tokenizer']['description']}"
           f" ({summary['tokenizer']['vocab_size']} pieces)", "",
           f"{'task':48} {'dataset':20} {'language':8} {'count':>7}"]
  lines += [f"{t['task']:48} {t['dataset']:20} {t['language']:8} {t['count']:>7}"
            for t in summary["tasks"]]
  lines += ["", f"{'language':8} {'examples':>8}  tokens inputs mean/median/p95/max"
                "  targets mean/median/p95/max  (characters inputs mean)"]
  for language, count in summary["languages"].items():
    lengths = summary["token_lengths"][language]
    described = ["/".join(f"{lengths[f][k]:g}" for k in ("mean", "median", "p95", "max"))
                 for f in ("inputs", "targets")]
    lines.append(f"{language:8} {count:>8}  {described[0]:>32}  {described[1]:>28}"
                 f"  ({summary['character_lengths'][language]['inputs']['mean']:g})")
  validation = summary["validation"]
  lines += ["", f"validation: {summary['validation_mixture']}, {len(validation)} tasks,"
                f" {sum(v['count'] for v in validation)} examples", "", "examples:"]
  for language, examples in summary["examples"].items():
    for example in examples:
      lines += [f"[{language}] {example['id']}", f"  inputs:  {_shorten(example['inputs'])}",
                f"  targets: {_shorten(example['targets'])}"]
  return "\n".join(lines)


def format_list(rows: list[dict]) -> str:
  lines = [f"{'mixture':44} {'study':18} {'examples':>9}  languages"]
  lines += [f"{r['mixture']:44} {r['study']:18} {r['total']:>9}  {' '.join(r['languages'])}"
            for r in rows]
  return "\n".join(lines + [f"{len(rows)} mixtures"])


def main(argv: list[str] | None = None) -> int:
  """Command line; prints `error: ...` and returns 2 on bad input."""
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.inspect", description=__doc__.split("\n")[0],
      epilog="example: python -m xlt_jax.inspect demo_budget00050 --data_dir=/tmp/demo_data\n"
             "example: python -m xlt_jax.inspect --json > mixtures.json",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("mixture", nargs="?", help="a catalogued mixture; none: list them all")
  parser.add_argument("--data_dir", help="DATA_DIR holding the datasets (needed with a mixture)")
  parser.add_argument("--tokenizer", help="SentencePiece .model or tokenizer.json")
  parser.add_argument("--eos_token", help="end-of-sequence token of a tokenizer.json")
  parser.add_argument("--examples", type=int, default=2, help="decoded examples per language")
  parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
  args = parser.parse_args(argv)
  from xlt_jax.runner import quiet_start

  quiet_start.begin()
  from tasks import catalogue

  try:
    if args.mixture is None:
      rows = list_mixtures()
      print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json else format_list(rows))
      return 0
    catalogue.design_for(args.mixture)  # a typo is named (with near matches) before --data_dir
    if args.data_dir is None:
      raise UserInputError("inspecting a mixture needs --data_dir")
    summary = inspect_mixture(args.mixture, args.data_dir, args.tokenizer, args.eos_token,
                              args.examples)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json
        else format_summary(summary))
  return 0


if __name__ == "__main__":
  sys.exit(main())
