"""Tokens per second of packed and of unpacked training batches out of a realistic mixture.

The mixture imitates P0's multi-task setting in 8 languages (en es fr pt ja zh ar ko):
XLSum-like summarisation (long articles, short summaries), ShareGPT-like multi-turn
chats (1-4 exchanges) and mCoT-like maths (short question, chain-of-thought
answer), with synthetic text in each language's script and lengths drawn from
log-normal distributions. A byte-level BPE tokenizer.json (8k pieces, Qwen's
control tokens) is trained on the synthetic text; examples go through the real
pipeline (seqio tasks, length policy, pad or pack, host batches) either as plain
prompt/target pairs or rendered with the Qwen chat template.

For each format it times one cold pass over every example (tokenization included:
seqio keeps small tasks in memory after it, so later epochs skip it); for each
(format, packing) it prints the set-up time (first batch: the shuffle buffers fill,
which tokenizes every task), the steady-state rate in real (non-padding) tokens/s
and in positions/s, and the padding efficiency, then compares the positions/s with what
one TPU v5e host consumes for a 7B model: 8 chips x 2,500 tokens/s/chip = 20,000
positions/s. One JSON document goes to stdout (and to --out), with the CPU it ran on
("machine", from `machine_info.describe_machine`).

    JAX_PLATFORMS=cpu python benchmarks/batches_throughput.py [--batches 20] [--out r.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import machine_info  # benchmarks/, the script's own folder
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LANGUAGES = ("en", "es", "fr", "pt", "ja", "zh", "ar", "ko")
TASKS = ("xlsum", "sharegpt", "mcot")
V5E_HOST_TOKENS_PER_SECOND = 8 * 2_500  # one v5e host, 7B model (issue 4)


def _alphabet(language: str) -> list[str]:
  if language in ("ja", "zh"):
    characters = [chr(0x4E00 + i) for i in range(0, 3000, 3)]
    return characters + ([chr(0x3041 + i) for i in range(80)] if language == "ja" else [])
  if language == "ko":
    return [chr(0xAC00 + i) for i in range(0, 11000, 7)]
  if language == "ar":
    return [chr(c) for c in range(0x0627, 0x064B)]
  consonants, vowels = "bcdfglmnprstvz", "aeiou" + {"es": "áé", "fr": "éè", "pt": "ãç"}.get(
      language, "")
  return [c + v for c in consonants for v in vowels]


def _text(rng, language: str, words: int) -> str:
  alphabet = _alphabet(language)
  pieces = ["".join(rng.choice(alphabet, size=rng.integers(1, 4))) for _ in range(max(1, words))]
  spaced = language not in ("ja", "zh")
  joiner, full_stop = (" ", ". ") if spaced else ("", "。")
  return full_stop.join(joiner.join(pieces[i:i + 12]) for i in range(0, len(pieces), 12))


def _words(rng, median: float, sigma: float = 0.5) -> int:
  return int(rng.lognormal(np.log(median), sigma))


def make_examples(task: str, language: str, count: int, seed: int) -> list[dict[str, str]]:
  """Synthetic examples of one task in one language with realistic length spreads."""
  rng = np.random.default_rng([seed, LANGUAGES.index(language), TASKS.index(task)])
  examples = []
  for number in range(count):
    if task == "xlsum":  # articles ~450 words (BBC median), summaries ~25 words
      # The instruction follows the article: left truncation keeps it.
      inputs = _text(rng, language, _words(rng, 450, 0.6)) + "\nSummarize the article above."
      messages = [{"role": "user", "content": inputs},
                  {"role": "assistant", "content": _text(rng, language, _words(rng, 25, 0.3))}]
    elif task == "sharegpt":  # 1-4 exchanges: prompts ~40 words, replies ~200 words
      messages = []
      for _ in range(int(rng.integers(1, 5))):
        messages += [{"role": "user", "content": _text(rng, language, _words(rng, 40, 0.8))},
                     {"role": "assistant", "content": _text(rng, language, _words(rng, 200, 0.6))}]
    else:  # mCoT-like maths: questions ~50 words, chain-of-thought answers ~120 words
      messages = [{"role": "user", "content": _text(rng, language, _words(rng, 50, 0.4))},
                  {"role": "assistant", "content": _text(rng, language, _words(rng, 120, 0.5))}]
    example = {"id": f"{task}_{language}:{number}", "language": language,
               "inputs": messages[0]["content"], "targets": messages[1]["content"], "answer": ""}
    if len(messages) > 2:
      example["conversation"] = json.dumps(messages, ensure_ascii=False)
    examples.append(example)
  return examples


def _train_tokenizer(examples: list[dict[str, str]], path: str) -> None:
  import tokenizers
  from tokenizers import decoders, models, pre_tokenizers, trainers

  tokenizer = tokenizers.Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
      vocab_size=8192, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
  tokenizer.train_from_iterator(
      (e["inputs"] + "\n" + e["targets"] for e in examples[::4]), trainer=trainer)
  tokenizer.save(path)


def measure(mixture: str, lengths, batch_size: int, batches: int, pack: bool) -> dict:
  """Set-up time, then steady-state rates over `batches` batches."""
  from xlt_jax.training import batches as batches_module

  start = time.perf_counter()
  iterator = batches_module.training_batches(mixture, lengths, batch_size, seed=0, pack=pack)
  next(iterator)
  setup = time.perf_counter() - start
  real, positions, start = 0, 0, time.perf_counter()
  for _ in range(batches):
    batch = next(iterator)
    real += int(np.count_nonzero(batch["decoder_segment_ids"]))
    positions += batch["decoder_segment_ids"].size
  seconds = time.perf_counter() - start
  return {
      "setup_seconds": round(setup, 2),
      "batches": batches,
      "seconds": round(seconds, 2),
      "real_tokens_per_second": round(real / seconds),
      "positions_per_second": round(positions / seconds),
      "padding_efficiency": round(real / positions, 4),
      "v5e_host_positions_needed_per_second": V5E_HOST_TOKENS_PER_SECOND,
      "keeps_up_with_one_v5e_host": positions / seconds >= V5E_HOST_TOKENS_PER_SECOND,
      "headroom_vs_one_v5e_host": round(positions / seconds / V5E_HOST_TOKENS_PER_SECOND, 2),
  }


def first_pass(mixture: str, lengths) -> dict:
  """One cold pass over every example of the mixture's tasks (tokenization included):
  what the pipeline sustains before seqio's in-memory cache holds the tasks."""
  from xlt_jax.training import batches as batches_module
  from xlt_jax.training import features

  start, tokens, examples = time.perf_counter(), 0, 0
  for task in batches_module._tasks_of(mixture):
    dataset = batches_module._task_examples(task.name, "train", shuffle=False, num_epochs=1,
                                            seed=0)
    for row in features.example_rows(dataset, lengths.inputs, lengths.targets).prefetch(
        64).as_numpy_iterator():
      tokens += len(row["decoder_input_tokens"])
      examples += 1
  seconds = time.perf_counter() - start
  return {"cold_pass_seconds": round(seconds, 2), "cold_pass_examples": examples,
          "cold_pass_real_tokens_per_second": round(tokens / seconds),
          "cold_pass_headroom_vs_one_v5e_host": round(tokens / seconds
                                                      / V5E_HOST_TOKENS_PER_SECOND, 2)}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--examples_per_task_language", type=int, default=100)
  parser.add_argument("--inputs_length", type=int, default=1024)
  parser.add_argument("--targets_length", type=int, default=1024)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--batches", type=int, default=10)
  parser.add_argument("--out", default=None)
  args = parser.parse_args()

  import seqio

  from tasks import registration
  from xlt_jax.models.hf_tokenizer import HuggingFaceVocabulary
  from xlt_jax.training import batches as batches_module

  examples = {(task, language): make_examples(task, language, args.examples_per_task_language, 0)
              for task in TASKS for language in LANGUAGES}
  work_dir = tempfile.mkdtemp(prefix="batches_bench_")
  tokenizer_path = os.path.join(work_dir, "tokenizer.json")
  _train_tokenizer([e for task_examples in examples.values() for e in task_examples],
                   tokenizer_path)
  vocabulary = HuggingFaceVocabulary.from_file(tokenizer_path, eos_token="<|im_end|>")
  lengths = batches_module.FeatureLengths(args.inputs_length, args.targets_length)
  results = []
  for chat_family in (None, "qwen"):
    fmt = chat_family or "plain"
    members = [(registration.register_examples_task(
        f"bench_{fmt}_{task}_{language}", "train", task_examples, vocabulary, chat_family),
        len(task_examples)) for (task, language), task_examples in examples.items()]
    seqio.MixtureRegistry.add(f"bench_{fmt}", members)
    counts = batches_module.length_counts(f"bench_{fmt}", "train", lengths)
    cold = first_pass(f"bench_{fmt}", lengths)
    print(json.dumps({"format": fmt, **cold}), file=sys.stderr, flush=True)
    for pack in (False, True):
      result = {"format": fmt, "packed": pack,
                **measure(f"bench_{fmt}", lengths, args.batch_size, args.batches, pack),
                "truncated_examples": sum(c["truncated"] for c in counts.values()),
                "dropped_examples": sum(c["dropped"] for c in counts.values()),
                "examples": sum(c["examples"] for c in counts.values()), **cold}
      print(json.dumps(result), file=sys.stderr, flush=True)
      results.append(result)
  try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(__file__)).stdout.strip()
  except OSError:
    commit = None
  document = {
      "benchmark": "batches_throughput",
      "commit": commit,
      "cpu_count": os.cpu_count(),
      "machine": machine_info.describe_machine(),  # the CPU every figure here is from
      "config": vars(args),
      "results": results,
  }
  print(json.dumps(document, indent=1))
  if args.out:
    from xlt_jax.core import atomic_io
    atomic_io.write_json(args.out, document)


if __name__ == "__main__":
  main()
