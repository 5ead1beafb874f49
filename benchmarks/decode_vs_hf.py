"""Greedy decoding throughput of the inference engine against `transformers` `generate`.

One Llama-style model (by default ~110M parameters: hidden 768, 12 layers, 12 heads,
MLP 2048, vocab 32000, tied embeddings) is built with `transformers`
(`LlamaForCausalLM`, random weights), saved with `save_pretrained` and converted with
`xlt_jax.models.hf_params.from_hf`, so both sides decode the same weights. For each
precision (fp32; bf16 weights and activations on both sides) and batch size (8 and
32), random 128-token prompts are continued greedily for 128 new tokens with no stop
id, by `InferenceEngine.generate` and by `model.generate(do_sample=False)` (its
default dynamic KV cache; the model has no EOS, so both sides always produce all new tokens), alternately after one warm-up call each (the engine's
warm-up includes its compilation). Reported per setting: the median tokens/s of each
(batch x new tokens / wall seconds), their ratio, and how many leading tokens of each
row agree (all 128 in fp32 unless a near-tie flips; bf16 rounds differently on each
side and may part earlier; the first token must agree in every row).

Prints one JSON object (with the machine, from `machine_info.describe_machine`) and a
summary line per setting; progress goes to stderr.

    python benchmarks/decode_vs_hf.py [--batches 8,32] [--precisions fp32,bf16]
        [--prompt 128] [--new 128] [--repeats 3] [--layers 12 --embed 768 --heads 12
        --mlp 2048 --vocab 32000] [--out r.json]
"""

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Benchmark the checkout this file lives in, whatever xlt_jax the environment installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import machine_info  # benchmarks/, the script's own folder
import numpy as np
import torch
import transformers

from xlt_jax.core.atomic_io import write_text
from xlt_jax.evaluation.engine import InferenceEngine, SamplingParams
from xlt_jax.models import hf_params
from xlt_jax.models.decoder import parameter_count

DTYPES = {"fp32": ("float32", torch.float32), "bf16": ("bfloat16", torch.bfloat16)}


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--batches", default="8,32")
  parser.add_argument("--precisions", default="fp32,bf16")
  parser.add_argument("--prompt", type=int, default=128, help="prompt tokens")
  parser.add_argument("--new", type=int, default=128, help="new tokens")
  parser.add_argument("--repeats", type=int, default=3, help="timed calls of each side")
  parser.add_argument("--layers", type=int, default=12)
  parser.add_argument("--embed", type=int, default=768)
  parser.add_argument("--heads", type=int, default=12)
  parser.add_argument("--mlp", type=int, default=2048)
  parser.add_argument("--vocab", type=int, default=32000)
  parser.add_argument("--out", help="also write the JSON here")
  return parser


class _NoText:
  """The benchmark compares token ids; nothing is decoded to text that it reads."""

  eos_id = None

  def decode(self, ids) -> str:
    return ""


def _agreeing_prefix(ours: list[int], theirs: list[int]) -> int:
  return next((index for index, (a, b) in enumerate(zip(ours, theirs)) if a != b),
              min(len(ours), len(theirs)))


def _engine_tokens(engine: InferenceEngine, prompts: list[list[int]],
                   settings: SamplingParams) -> list[tuple[int, ...]]:
  return [completions[0].token_ids for completions in engine.generate(prompts, settings)]


def _generate_tokens(model, prompts: list[list[int]], new: int) -> list[list[int]]:
  with torch.no_grad():
    inputs = torch.tensor(prompts)
    output = model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=False,
                            max_new_tokens=new)
  return output[:, inputs.shape[1]:].tolist()


def _timed(call, repeats: int) -> tuple[float, object]:
  seconds, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = call()
    seconds.append(time.perf_counter() - start)
  return statistics.median(seconds), result


def run(args: argparse.Namespace) -> dict:
  """Decodes every (precision, batch) setting with both sides; returns the results."""
  config = transformers.LlamaConfig(
      vocab_size=args.vocab, hidden_size=args.embed, intermediate_size=args.mlp,
      num_hidden_layers=args.layers, num_attention_heads=args.heads,
      num_key_value_heads=args.heads, max_position_embeddings=args.prompt + args.new,
      tie_word_embeddings=True, bos_token_id=None, eos_token_id=None, pad_token_id=0)
  torch.manual_seed(0)
  reference = transformers.LlamaForCausalLM(config).eval()
  results = []
  with tempfile.TemporaryDirectory() as directory:
    reference.save_pretrained(directory)
    for precision in args.precisions.split(","):
      our_dtype, torch_dtype = DTYPES[precision]
      model, params = hf_params.from_hf(directory, dtype=our_dtype)
      hf_model = transformers.LlamaForCausalLM.from_pretrained(directory,
                                                               dtype=torch_dtype).eval()
      for batch in (int(size) for size in args.batches.split(",")):
        prompts = np.random.default_rng(batch).integers(
            1, args.vocab, (batch, args.prompt)).tolist()
        engine = InferenceEngine(model, params, _NoText(), stop_ids=(), batch_size=batch,
                                 length_bucket=args.prompt, max_length=args.prompt + args.new)
        settings = SamplingParams(max_new_tokens=args.new)

        ours = functools.partial(_engine_tokens, engine, prompts, settings)
        theirs = functools.partial(_generate_tokens, hf_model, prompts, args.new)
        print(f"[decode_vs_hf] {precision} batch {batch}: warm-up", file=sys.stderr, flush=True)
        start = time.perf_counter()
        ours()
        compile_seconds = time.perf_counter() - start
        theirs()
        our_seconds, our_tokens = _timed(ours, args.repeats)
        their_seconds, their_tokens = _timed(theirs, args.repeats)
        agree = [_agreeing_prefix(list(a), b) for a, b in zip(our_tokens, their_tokens)]
        generated = batch * args.new
        results.append({
            "precision": precision, "batch": batch, "prompt": args.prompt, "new": args.new,
            "xlt_tokens_per_s": generated / our_seconds,
            "hf_tokens_per_s": generated / their_seconds,
            "ratio": their_seconds / our_seconds,
            "xlt_first_call_s": compile_seconds,
            "first_token_agrees": all(count > 0 for count in agree),
            "agreeing_prefix_min": min(agree), "agreeing_prefix_median": statistics.median(agree),
        })
  return {"parameters": parameter_count(model.config), "backend": jax.default_backend(),
          "torch_threads": torch.get_num_threads(), "machine": machine_info.describe_machine(),
          "results": results}


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  report = run(args)
  text = json.dumps(report, indent=1)
  print(text)
  if args.out:
    write_text(args.out, text + "\n")
  for result in report["results"]:
    print(f"{result['precision']} batch {result['batch']}: xlt {result['xlt_tokens_per_s']:.0f} "
          f"tok/s, transformers {result['hf_tokens_per_s']:.0f} tok/s, ratio "
          f"{result['ratio']:.2f}x; first tokens agree: {result['first_token_agrees']}, "
          f"agreeing prefix min {result['agreeing_prefix_min']}/{result['new']} "
          f"({report['parameters'] / 1e6:.1f}M parameters, "
          f"{report['machine']['cpu_model']}, backend {report['backend']})")
  return 0 if all(result["first_token_agrees"] for result in report["results"]) else 1


if __name__ == "__main__":
  sys.exit(main())
