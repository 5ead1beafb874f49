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
side and may part earlier). The first token must agree in every row, or be a near tie:
the fp32 model's two logits differ by less than bf16 rounding moves that row's logits
(the largest difference between `transformers`' bf16 and fp32 logits at that position);
any other disagreement makes the script exit 1. With `--also_scanned` the engine is also
timed with its layers scanned (`unrolled_layers=False`, the accelerators' path), to show
what unrolling them gains on CPU.

Prints one JSON object (with the machine, from `machine_info.describe_machine`) and a
summary line per setting; progress goes to stderr.

    python benchmarks/decode_vs_hf.py [--batches 8,32] [--precisions fp32,bf16]
        [--prompt 128] [--new 128] [--repeats 3] [--layers 12 --embed 768 --heads 12
        --mlp 2048 --vocab 32000] [--also_scanned] [--out r.json]
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
  parser.add_argument("--also_scanned", action="store_true",
                      help="also time the engine with scanned layers")
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


def _first_token_disagreements(reference, hf_model, prompts, ours, theirs) -> list[dict]:
  """Rows whose first tokens differ, each with the fp32 model's margin between the two
  tokens and the bf16 noise it is compared with (see the module docstring)."""
  found = []
  for row, (our_tokens, their_tokens) in enumerate(zip(ours, theirs)):
    if our_tokens[0] == their_tokens[0]:
      continue
    with torch.no_grad():
      inputs = torch.tensor([prompts[row]])
      exact = reference(inputs).logits[0, -1].float()
      rounded = hf_model(inputs).logits[0, -1].float()
    margin = abs(float(exact[our_tokens[0]] - exact[their_tokens[0]]))
    noise = float((rounded - exact).abs().max())
    found.append({"row": row, "ours": our_tokens[0], "theirs": their_tokens[0],
                  "fp32_margin": margin, "bf16_noise": noise, "near_tie": margin <= noise})
  return found


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
        engines = {mode: InferenceEngine(model, params, _NoText(), stop_ids=(), batch_size=batch,
                                         length_bucket=args.prompt,
                                         max_length=args.prompt + args.new,
                                         unrolled_layers=mode == "unrolled")
                   for mode in ("unrolled", "scanned")[:2 if args.also_scanned else 1]}
        settings = SamplingParams(max_new_tokens=args.new)

        ours = functools.partial(_engine_tokens, engines["unrolled"], prompts, settings)
        theirs = functools.partial(_generate_tokens, hf_model, prompts, args.new)
        print(f"[decode_vs_hf] {precision} batch {batch}: warm-up", file=sys.stderr, flush=True)
        start = time.perf_counter()
        ours()
        compile_seconds = time.perf_counter() - start
        theirs()
        our_seconds, our_tokens = _timed(ours, args.repeats)
        their_seconds, their_tokens = _timed(theirs, args.repeats)
        scanned = {}
        if "scanned" in engines:
          print(f"[decode_vs_hf] {precision} batch {batch}: scanned layers", file=sys.stderr,
                flush=True)
          scanned_call = functools.partial(_engine_tokens, engines["scanned"], prompts, settings)
          scanned_call()
          scanned_seconds, scanned_tokens = _timed(scanned_call, args.repeats)
          scanned = {"xlt_scanned_tokens_per_s": batch * args.new / scanned_seconds,
                     "scanned_tokens_equal": scanned_tokens == our_tokens}
        agree = [_agreeing_prefix(list(a), b) for a, b in zip(our_tokens, their_tokens)]
        disagreements = _first_token_disagreements(reference, hf_model, prompts, our_tokens,
                                                   their_tokens)
        generated = batch * args.new
        results.append({
            "precision": precision, "batch": batch, "prompt": args.prompt, "new": args.new,
            "xlt_tokens_per_s": generated / our_seconds,
            "hf_tokens_per_s": generated / their_seconds,
            "ratio": their_seconds / our_seconds,
            "xlt_first_call_s": compile_seconds,
            "first_token_agrees": all(count > 0 for count in agree),
            "first_token_disagreements": disagreements,
            "agreeing_prefix_min": min(agree), "agreeing_prefix_median": statistics.median(agree),
            **scanned,
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
          f"{result['ratio']:.2f}x"
          + (f" (scanned layers {result['xlt_scanned_tokens_per_s']:.0f} tok/s)"
             if "xlt_scanned_tokens_per_s" in result else "")
          + f"; first tokens agree: {result['first_token_agrees']} (near ties: "
          f"{sum(row['near_tie'] for row in result['first_token_disagreements'])}), "
          f"agreeing prefix min {result['agreeing_prefix_min']}/{result['new']} "
          f"({report['parameters'] / 1e6:.1f}M parameters, "
          f"{report['machine']['cpu_model']}, backend {report['backend']})")
  return 0 if all(all(row["near_tie"] for row in result["first_token_disagreements"])
                  and result.get("scanned_tokens_equal", True)
                  for result in report["results"]) else 1


if __name__ == "__main__":
  sys.exit(main())
