"""The inference and evaluation binary: decode every eval prompt of a run, score per language.

    python -m xlt_jax.evaluate --run_dir=MODEL_DIR/runs/budget00050 [--checkpoint=best]

Reads `run.json` (written by the launcher) for the model, tokenizer, data and the
study's test sets, restores the chosen checkpoint, decodes greedily with a KV cache in
batches, scores each task with its dataset's metric and writes `eval/predictions.jsonl`
(one line per item) and `eval/metrics.json` (per task and language). A killed evaluation
resumes: finished (task, language) items under `eval/items/` are not decoded again.
The work is done by `xlt_jax.evaluation.evaluator`; this module only parses flags.
"""

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
  # Defaults are repeated from EvaluationConfig so that --help needs no JAX import.
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.evaluate", description=__doc__.split("\n")[0],
      epilog="example: python -m xlt_jax.evaluate --run_dir=xlt_runs/demo_cpu/runs/budget00050",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--run_dir", required=True, help="a run directory holding run.json")
  parser.add_argument(
      "--checkpoint", default="best",
      help="best, latest or a step number (results in RUN_DIR/eval/); all: every kept"
           " checkpoint (eval/checkpoints/<step>/); base: the un-fine-tuned base model the run"
           " started from (eval/base/)")
  parser.add_argument("--batch_size", type=int, default=32, help="prompts decoded together")
  parser.add_argument("--max_new_tokens", type=int, default=None,
                      help="tokens generated per prompt, every task (default: each task's own)")
  parser.add_argument(
      "--selection", default="min_validation_loss",
      help="which checkpoint is best: min_validation_loss, min_validation_perplexity, final, or"
           " max_validation_score (decodes the run's validation examples at every kept"
           " checkpoint)")
  parser.add_argument("--selection_metric", default=None,
                      help="with max_validation_score: the metric of judged datasets (P1: rouge_l)")
  judge = parser.add_argument_group(
      "judge", "score instruction-following tasks (llm_judge) with an OpenAI-compatible model;"
      " without --judge_model they get language fidelity only")
  judge.add_argument("--judge_protocol", default="p0_pointwise",
                     help="p0_pointwise, p2_pointwise or p3_likert (JudgeConfig.protocol);"
                          " P1's p1_pairwise compares runs, so the launcher runs it")
  judge.add_argument("--judge_model", default=None, help="e.g. gpt-4o, or a served model's name")
  judge.add_argument("--judge_base_url", default="https://api.openai.com/v1",
                     help="the endpoint, e.g. http://localhost:8000/v1 for vLLM or xlt_jax.serve")
  judge.add_argument("--judge_api_key_env", default="OPENAI_API_KEY",
                     help="the environment variable holding the key ('' for none)")
  return parser


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  if args.judge_model is not None and args.judge_protocol == "p1_pairwise":
    print("error: --judge_protocol=p1_pairwise compares each run with the study's run tuned"
          " on the evaluation language, which one run's evaluation cannot: bind"
          " EvaluationConfig.judge = @JudgeConfig() with JudgeConfig.protocol = 'p1_pairwise'"
          " in the study's gin and launch it (xlt_jax.evaluation.pairwise_runs)",
          file=sys.stderr)
    return 2
  from xlt_jax.runner import quiet_start

  quiet_start.begin()
  from xlt_jax.core.errors import UserInputError
  from xlt_jax.evaluation import evaluator
  from xlt_jax.training import distributed

  try:
    # On a TPU VM slice run this on every worker: they join automatically.
    distributed.initialize(distributed.DistributedConfig())
    judge = {}
    if args.judge_model is not None:
      from xlt_jax.evaluation.judges.protocols import JudgeConfig
      from xlt_jax.services.config import ChatServiceConfig

      judge = {"judge": JudgeConfig(protocol=args.judge_protocol),
               "judge_service": ChatServiceConfig(
                   base_url=args.judge_base_url, model=args.judge_model,
                   api_key_env=args.judge_api_key_env)}
    metrics = evaluator.evaluate_run(args.run_dir, evaluator.EvaluationConfig(
        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, checkpoint=args.checkpoint,
        selection=args.selection, selection_metric=args.selection_metric, **judge))
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  where = {"all": os.path.join("eval", "checkpoints"), "base": os.path.join("eval", "base")}
  print(os.path.join(args.run_dir, where.get(args.checkpoint, "eval"),
                     "" if args.checkpoint == "all" else "metrics.json"))
  return 0 if metrics else 1


if __name__ == "__main__":
  sys.exit(main())
