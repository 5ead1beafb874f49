"""Hugging Face checkpoints <-> xlt checkpoint directories, and their verification.

    python -m xlt_jax.convert hf-to-xlt --hf_dir DIR --out DIR [--dtype bfloat16]
    python -m xlt_jax.convert xlt-to-hf --xlt_dir DIR --out DIR [--dtype bfloat16]
    python -m xlt_jax.convert xlt-to-hf --lora_run RUN_DIR [--checkpoint best] [--peft] --out DIR
    python -m xlt_jax.convert verify --hf_dir DIR [--tolerance 1e-4]

An xlt checkpoint directory holds `model.json` (our ModelConfig and the original
config.json), `params/` (one orbax checkpoint per parameter) and the
tokenizer files. `verify` runs the same tokens through `transformers` and
xlt-jax, prints the largest logit difference and both greedy continuations, and
exits 1 above the tolerance. Users run it after every conversion. With `--lora_run`
(a run trained with LoRA adapters), `xlt-to-hf` writes the run's base (its initial
checkpoint, or --xlt_dir) with the adapters merged in, or with `--peft` a PEFT adapter
directory that `peft.PeftModel.from_pretrained(base_model, DIR)` loads. The work is done
by `xlt_jax.models.conversion`; this module only parses flags.
"""

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.convert", description="Hugging Face <-> xlt-jax checkpoints.",
      epilog="example: python -m xlt_jax.convert hf-to-xlt --hf_dir=aya-23-8b --out=aya23_8b_xlt\n"
             "example: python -m xlt_jax.convert verify --hf_dir=aya-23-8b",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  to_xlt = commands.add_parser("hf-to-xlt", help="a Hugging Face directory -> an xlt directory")
  to_xlt.add_argument("--hf_dir", required=True)
  to_xlt.add_argument("--out", required=True)
  to_xlt.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  to_hf = commands.add_parser("xlt-to-hf", help="an xlt directory -> a Hugging Face directory")
  to_hf.add_argument("--xlt_dir", help="the xlt directory (with --lora_run: its base;"
                     " default: the run's initial checkpoint)")
  to_hf.add_argument("--out", required=True)
  to_hf.add_argument("--dtype", default=None, choices=["float32", "bfloat16"])
  to_hf.add_argument("--lora_run", help="a run directory trained with LoRA adapters")
  to_hf.add_argument("--checkpoint", default="best", help="with --lora_run: best, latest or a step")
  to_hf.add_argument("--peft", action="store_true",
                     help="with --lora_run: write a PEFT adapter directory, not merged weights")
  check = commands.add_parser(
      "verify", help="logits against transformers (needs torch and transformers:"
      ' pip install -e ".[verify]")',
      epilog="example: python -m xlt_jax.convert verify --hf_dir=aya-23-8b")
  check.add_argument("--hf_dir", required=True)
  check.add_argument("--tolerance", type=float, default=1e-4)
  return parser


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  from xlt_jax.runner import quiet_start

  quiet_start.begin(tensorflow=False)
  from xlt_jax.core.errors import UserInputError
  from xlt_jax.models import conversion

  try:
    if args.command == "hf-to-xlt":
      print(conversion.hf_to_xlt(args.hf_dir, args.out, args.dtype, stream=sys.stderr))
    elif args.command == "xlt-to-hf" and args.lora_run:
      from xlt_jax.training import lora_export

      print(lora_export.export_run(args.lora_run, args.checkpoint, args.out, peft=args.peft,
                                   xlt_dir=args.xlt_dir, dtype=args.dtype))
    elif args.command == "xlt-to-hf":
      if args.xlt_dir is None or args.peft:
        raise UserInputError("xlt-to-hf needs --xlt_dir (--peft only with --lora_run)")
      print(conversion.xlt_to_hf(args.xlt_dir, args.out, args.dtype))
    else:
      from xlt_jax.evaluation import parity

      return 0 if parity.verify(args.hf_dir, args.tolerance) else 1
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
