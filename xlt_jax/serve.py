"""The serving binary: an OpenAI-compatible HTTP server for one checkpoint.

    python -m xlt_jax.serve --model=MODEL_DIR/runs/budget00050 [--checkpoint=best] [--port=8000]

Serves `/v1/completions`, `/v1/chat/completions` (with the checkpoint's chat template)
and `/v1/models` for a run's checkpoint (best, latest or a step), an xlt checkpoint
directory or a Hugging Face one, batching concurrent requests together. The work is
done by `xlt_jax.serving`; this module only parses flags.
"""

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
  # Defaults are repeated from ServerConfig so that --help needs no JAX import.
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.serve", description=__doc__.split("\n")[0],
      epilog="example: python -m xlt_jax.serve --model=xlt_runs/demo_cpu/runs/budget00050"
             " --port=8000\n"
             "example: python -m xlt_jax.serve --model=/checkpoints/Llama-3.2-1B-Instruct"
             " --chat_template=llama3",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", required=True,
                      help="a run directory (run.json), an xlt checkpoint (model.json) or a"
                           " Hugging Face checkpoint (config.json)")
  parser.add_argument("--checkpoint", default="best",
                      help="for a run: best, latest or a step number")
  parser.add_argument("--chat_template", default=None,
                      help="chat family of a checkpoint (cohere, gemma, llama3, qwen); default:"
                           " the one its config.json's model_type implies, if its tokenizer"
                           " has that family's end-of-turn token")
  parser.add_argument("--dtype", default="float32", help="parameter dtype of a Hugging Face checkpoint")
  parser.add_argument("--served_name", default=None, help="model id clients use (default: the"
                      " run and step, or the directory's name)")
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, default=8000)
  parser.add_argument("--max_wait_ms", type=float, default=5.0,
                      help="how long a request waits for others to share its batch")
  parser.add_argument("--max_batch_rows", type=int, default=64, help="most prompts per batch")
  parser.add_argument("--max_model_len", type=int, default=4096,
                      help="longest prompt + completion accepted, in tokens")
  parser.add_argument("--engine_batch_size", type=int, default=32,
                      help="prompts per compiled decoding batch")
  return parser


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  from xlt_jax.runner import quiet_start

  quiet_start.begin()
  import dataclasses

  import uvicorn

  from xlt_jax.core.errors import UserInputError
  from xlt_jax.evaluation import model_loading
  from xlt_jax.serving.app import create_app
  from xlt_jax.serving.service import ModelService, ServerConfig

  try:
    loaded = model_loading.load(args.model, args.checkpoint, args.chat_template, args.dtype)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  if args.served_name:
    loaded = dataclasses.replace(loaded, name=args.served_name)
  service = ModelService(loaded, ServerConfig(
      max_wait_ms=args.max_wait_ms, max_batch_rows=args.max_batch_rows,
      max_model_len=args.max_model_len, engine_batch_size=args.engine_batch_size))
  if loaded.template_note:
    print(f"note: {loaded.template_note}", file=sys.stderr)
  print(f"serving {loaded.name} (chat template: {loaded.chat_family or 'none'}) at"
        f" http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
  uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")
  return 0


if __name__ == "__main__":
  sys.exit(main())
