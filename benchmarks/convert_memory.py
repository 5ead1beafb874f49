"""Peak resident memory of `python -m xlt_jax.convert hf-to-xlt` relative to the checkpoint size.

Builds a randomly initialised ~1.1B-parameter Llama-style model with `transformers`
(TinyLlama's shape), saves it in bfloat16, converts it in a fresh process and reads
that process's peak RSS. Prints one JSON line (with the CPU it ran on: "machine", from
`machine_info.describe_machine`); `--out` also writes it to a file.

    python benchmarks/convert_memory.py [--work_dir /tmp/convert_bench] [--out result.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import machine_info  # benchmarks/, the script's own folder

SHAPE = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
             num_attention_heads=32, num_key_value_heads=4, tie_word_embeddings=False)


def _directory_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(path) for name in names)


def _save_random_model(hf_dir: str) -> None:
  import torch
  import transformers

  torch.manual_seed(0)
  config = transformers.LlamaConfig(**SHAPE, dtype="bfloat16")
  model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
  model.save_pretrained(hf_dir)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--work_dir", default="/tmp/convert_bench")
  parser.add_argument("--out", default=None)
  args = parser.parse_args()
  hf_dir, xlt_dir = os.path.join(args.work_dir, "hf"), os.path.join(args.work_dir, "xlt")
  if not os.path.isfile(os.path.join(hf_dir, "config.json")):
    # In its own process, so that torch's memory does not count towards the conversion.
    subprocess.run([sys.executable, "-c",
                    f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r});"
                    f" import convert_memory; convert_memory._save_random_model({hf_dir!r})"],
                   check=True)
  shutil.rmtree(xlt_dir, ignore_errors=True)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  start = time.perf_counter()
  # The converter runs in a process of its own that reports its own peak RSS at exit
  # (RUSAGE_CHILDREN would also count the torch process that built the model).
  converted = subprocess.run(
      [sys.executable, "-c",
       "import resource, runpy, sys\n"
       f"sys.argv = ['convert', 'hf-to-xlt', '--hf_dir={hf_dir}', '--out={xlt_dir}',"
       " '--dtype=bfloat16']\n"
       "try:\n  runpy.run_module('xlt_jax.convert', run_name='__main__')\n"
       "except SystemExit as exit:\n  assert not exit.code, exit.code\n"
       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"],
      check=True, env=env, capture_output=True, text=True)
  seconds = time.perf_counter() - start
  peak_bytes = int(converted.stdout.strip().splitlines()[-1])
  disk_bytes = _directory_bytes(hf_dir)
  baseline = subprocess.run(
      [sys.executable, "-c", "import resource, xlt_jax.convert, xlt_jax.models.hf_params, jax,"
       " orbax.checkpoint; import jax.numpy as jnp; jnp.zeros(1).block_until_ready();"
       " print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"],
      check=True, env=env, capture_output=True, text=True)
  import_bytes = int(baseline.stdout.strip().splitlines()[-1])
  result = {
      "benchmark": "convert_memory", "parameters": "1.1B (TinyLlama shape, random)",
      "dtype": "bfloat16", "checkpoint_bytes_on_disk": disk_bytes,
      "peak_rss_bytes": peak_bytes, "peak_rss_over_disk": round(peak_bytes / disk_bytes, 3),
      "import_rss_bytes": import_bytes,
      "peak_minus_imports_over_disk": round((peak_bytes - import_bytes) / disk_bytes, 3),
      "seconds": round(seconds, 1),
      "machine": machine_info.describe_machine(),  # the CPU the time is from
  }
  line = json.dumps(result)
  print(line)
  if args.out:
    with open(args.out, "w", encoding="utf-8") as file:
      file.write(line + "\n")


if __name__ == "__main__":
  main()
