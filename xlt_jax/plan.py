"""Will an experiment fit, and what will its sweep cost? Compiles the real train step and
the evaluation's decoding for a TPU topology on this machine (libtpu, abstract shapes:
no TPU needed).

    python -m xlt_jax.plan --gin_file=gin/aya35b_multitask.gin [--topology=v5e:16x16]
        [--mfu=0.4] [--skip_flops] [--skip_evaluation] [--json] [--output=plan.json]
        [--gin.NAME=VALUE ...]

Prints per-chip memory (parameters, optimizer state, temporaries) against the
chip's HBM, compiled against analytic FLOPs, the step time at the stated MFU beside
libtpu's own estimate of it, and the chip-hours of the experiment's sweep. A mesh
that does not fit --topology has its fsdp axis resized to fit (printed).
The model is gin's ModelConfig, or with `Experiment.base_checkpoint` the one its
config.json (model.json) describes; with `TrainConfig.lora` the step is the LoRA step
(frozen base, adapters alone in the gradient and optimizer state). The evaluation's
decoding (prefill, KV cache, decode loop: `xlt_jax.evaluation.decode_plan`) is
compiled at EvaluationConfig's batch size and longest prompt + new tokens, with its
own memory and verdict; so is the log-likelihood scoring of multiple-choice and
perplexity test sets (`engine.target_logprobs`), at EvaluationConfig's batch size of
max_length tokens, every position scored. --skip_flops compiles the step only (no FLOP
probes): memory and the verdict; --skip_evaluation leaves the evaluation out.
Exit status: 0 FITS (training and evaluation), 1 DOES NOT FIT, 2 with a one-line
`error:` for bad input (gin typo, unknown topology, a mesh that cannot be fitted to the
topology's chip count, a base checkpoint without config.json).
"""

from __future__ import annotations  # step_plan's types below are imported only when checking

import dataclasses
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from xlt_jax.core.errors import UserInputError
from xlt_jax.runner import flags, quiet_start

if TYPE_CHECKING:  # JAX: imported by main() after the flags parse
  from xlt_jax.evaluation import decode_plan
  from xlt_jax.training import step_plan

DEFAULT_MFU = 0.4  # a stated assumption for fine-tuning unpacked sequences, not a measurement
GIB = 2**30
PROG = "python -m xlt_jax.plan"


def _parser():
  parser = flags.gin_parser(
      PROG, "Compiles an experiment's train step for a TPU topology (no TPU needed): memory\n"
      "per chip, FLOPs, step time and the sweep's chip-hours; and the evaluation's decoding\n"
      "and log-likelihood scoring: memory per chip. Exit 0 FITS, 1 DOES NOT FIT, 2 bad input.",
      "--gin_file=FILE [--topology=T] [--mfu=X] [--skip_flops] [--skip_evaluation] [--json]"
      " [--output=PATH] [--gin.NAME=VALUE ...]",
      [f"{PROG} --gin_file=gin/aya8b_single_task.gin",
       f"{PROG} --gin_file=gin/smoke_cpu.gin --topology=v5e:2x2 --json"])
  parser.add_argument("--topology", metavar="T", help="libtpu topology, e.g. v5e:16x16 (default: the mesh"
                      " gin file's MeshConfig.topology)")
  parser.add_argument("--mfu", type=float, default=DEFAULT_MFU, metavar="X",
                      help=f"assumed model FLOPs utilisation for the step time (default {DEFAULT_MFU})")
  parser.add_argument("--skip_flops", action="store_true",
                      help="answer FITS / DOES NOT FIT from one compile, without the FLOP probes")
  parser.add_argument("--skip_evaluation", action="store_true",
                      help="plan the train step only, not the evaluation's decoding or"
                      " log-likelihood scoring")
  parser.add_argument("--json", action="store_true", help="print the plan as JSON")
  parser.add_argument("--output", metavar="PATH", help="also write the JSON plan to PATH")
  return parser


def _gib(value: float) -> str:
  return f"{value / GIB:8.2f} GiB"


def _step_kind(plan: step_plan.StepPlan) -> str:
  return "train step" if plan.lora is None else "LoRA step"


def _lora_line(plan: step_plan.StepPlan) -> str:
  adapters = plan.lora
  base = "int8" if adapters["base_dtype"] == "int8" else "its param_dtype"
  return (f"  LoRA          rank {adapters['rank']}, alpha {adapters['alpha']:g} on"
          f" {', '.join(adapters['targets'])}: the base frozen in {base}, only the"
          f" {plan.trainable_parameter_count:,} adapter parameters in the gradient and"
          " optimizer state")


def _total_and_compile_lines(
    compiled: decode_plan.DecodePlan | decode_plan.ScoringPlan) -> list[str]:
  """The lines an evaluation-side plan ends with: its total against HBM, what the compiler
  said (if anything) and the compile time."""
  share = 100 * compiled.total_bytes / compiled.hbm_bytes
  lines = [(f"  total         {_gib(compiled.total_bytes)}  of {compiled.hbm_bytes / GIB:.0f} GiB"
            f" HBM ({share:.0f}%)")]
  if compiled.compiler_message is not None:
    lines.append(f"  compiler      {compiled.compiler_message}")
  lines.append(f"  compile       {compiled.compile_seconds:.0f} s")
  return lines


def _evaluation_lines(evaluation: decode_plan.DecodePlan | None) -> list[str]:
  if evaluation is None:
    return ["evaluation      not planned: no task of the study is decoded"]
  shape = evaluation.shape
  cache = ("not identified in the compiled program" if evaluation.kv_cache_bytes is None
           else _gib(evaluation.kv_cache_bytes))
  lines = [
      (f"evaluation      decoding batch {shape.batch_size} x ({shape.prompt_length} prompt +"
       f" {shape.max_new_tokens} new) tokens (task {shape.task}: the longest prompt)"),
      "memory per chip",
      f"  parameters    {_gib(evaluation.parameter_bytes)}  ({evaluation.param_dtype})",
      f"  KV cache      {cache}  (within the temporaries)",
      (f"  temporaries   {_gib(evaluation.temporary_bytes)}  (KV cache, prefill activations,"
       " logits)"),
  ]
  return lines + _total_and_compile_lines(evaluation)


def _scoring_lines(scoring: decode_plan.ScoringPlan | None) -> list[str]:
  if scoring is None:
    return ["scoring         not planned: no task of the study is scored by log-likelihood"]
  shape = scoring.shape
  lines = [
      (f"scoring         log-likelihood batch {shape.batch_size} x {shape.length} tokens, all"
       f" scored (tasks {', '.join(shape.tasks)})"),
      "memory per chip",
      f"  parameters    {_gib(scoring.parameter_bytes)}  ({scoring.param_dtype})",
      f"  temporaries   {_gib(scoring.temporary_bytes)}  (activations, logits, scratch)",
  ]
  return lines + _total_and_compile_lines(scoring)


def verdict(plan: step_plan.StepPlan, evaluation: decode_plan.DecodePlan | None,
            scoring: decode_plan.ScoringPlan | None = None) -> str:
  """FITS, or DOES NOT FIT naming each step over HBM with its bytes per chip."""
  over = [(_step_kind(plan), plan.total_bytes, plan.hbm_bytes)] if not plan.fits else []
  if evaluation is not None and not evaluation.fits:
    over.append(("evaluation", evaluation.total_bytes, evaluation.hbm_bytes))
  if scoring is not None and not scoring.fits:
    over.append(("scoring", scoring.total_bytes, scoring.hbm_bytes))
  if not over:
    return "FITS"
  return "DOES NOT FIT: " + "; ".join(f"{name} {total / GIB:.2f} GiB per chip >"
                                      f" {hbm / GIB:.0f} GiB HBM" for name, total, hbm in over)


def format_report(plan: step_plan.StepPlan, runs: list[step_plan.RunEstimate],
                  model_source: str = "gin's ModelConfig",
                  evaluation: decode_plan.DecodePlan | None = None,
                  evaluation_planned: bool = False,
                  scoring: decode_plan.ScoringPlan | None = None) -> str:
  """The human-readable table: model, memory, FLOPs, step time, sweep, the evaluation's
  decoding and log-likelihood scoring memory (when planned), verdict (last line)."""
  mesh = " x ".join(f"{axis} {size}" for axis, size in plan.mesh_shape.items())
  lines = [
      f"model           {model_source}",
      f"topology        {plan.topology}: {plan.chips} x {plan.chip}, mesh {mesh}",
  ]
  if plan.mesh_derived_from:
    gin_mesh = " x ".join(f"{axis} {size}" for axis, size in plan.mesh_derived_from.items())
    lines.append(f"  derived       from gin's mesh {gin_mesh} for {plan.chips} chips (fsdp takes"
                 " what tensor, data and slice leave)")
  lines.append(f"step            {_step_kind(plan)}: batch {plan.batch_size} x"
               f" {plan.sequence_length} tokens, {plan.num_microbatches} microbatch(es),"
               f" {plan.parameter_count / 1e9:.2f}B parameters")
  if plan.lora is not None:
    lines.append(_lora_line(plan))
  lines += [
      "memory per chip",
      f"  parameters    {_gib(plan.parameter_bytes)}"
      + ("  (frozen base + adapters)" if plan.lora is not None else ""),
      f"  optimizer     {_gib(plan.optimizer_bytes)}",
      f"  arguments     {_gib(plan.argument_bytes)}  (parameters + optimizer state + batch)",
      f"  temporaries   {_gib(plan.temporary_bytes)}  (activations, gradients, scratch)",
      (f"  total         {_gib(plan.total_bytes)}  of {plan.hbm_bytes / GIB:.0f} GiB HBM"
       f" ({100 * plan.total_bytes / plan.hbm_bytes:.0f}%)"),
      "FLOPs per chip per step",
      f"  analytic      {plan.analytic_flops / 1e12:10.2f} TFLOP  ("
      + ("6 x matmul params" if plan.lora is None else
         "4 x frozen matmul params + 6 x adapter params")
      + " x tokens + attention)",
  ]
  if plan.compiled_flops is None and plan.compiler_message is None:
    lines.append("  compiled      skipped (--skip_flops: no FLOP probes compiled)")
  elif plan.compiled_flops is None:
    lines.append(f"  compiled      not compiled: {plan.compiler_message}")
  else:
    lines += [
        (f"  compiled      {plan.compiled_flops / 1e12:10.2f} TFLOP  (XLA, all layers;"
         f" {plan.compiled_over_analytic:.2f} x analytic: remat recomputes the forward pass)"),
        (f"  loop once     {plan.compiled_flops_loop_body_once / 1e12:10.2f} TFLOP  (XLA's raw"
         " count: the scanned layer body counted once)"),
    ]
  lines.append(f"step time       {plan.step_seconds:.3g} s at {100 * plan.mfu:.0f}% MFU"
               f" (analytic FLOPs / chip peak), {plan.tokens_per_second_per_chip:,.0f}"
               " tokens/s/chip")
  if plan.estimated_step_seconds is None:
    lines.append(f"  libtpu        {plan.estimate_note}")
  else:
    lines.append(f"  libtpu        {plan.estimated_step_seconds:.3g} s estimated by the compiler"
                 f" (optimal_seconds), {plan.estimated_tokens_per_second_per_chip:,.0f}"
                 f" tokens/s/chip, {100 * plan.estimated_mfu:.0f}% MFU")
  lines.append(f"compile         {plan.compile_seconds:.0f} s ("
               + ("the step and two FLOP probes)" if plan.flop_probes else "the step only)"))
  if runs:
    lines.append(f"sweep           {len(runs)} runs (training steps only)")
    lines.append(f"  {'run':<16}{'examples':>10}{'steps':>8}{'hours':>9}{'chip-hours':>12}")
    for run in runs:
      lines.append(f"  {run.name:<16}{run.examples:>10}{run.steps:>8}{run.hours:>9.2f}"
                   f"{run.chip_hours:>12.1f}")
    lines.append(f"  {'total':<16}{sum(r.examples for r in runs):>10}"
                 f"{sum(r.steps for r in runs):>8}{sum(r.hours for r in runs):>9.2f}"
                 f"{sum(r.chip_hours for r in runs):>12.1f}")
  if evaluation_planned:
    lines += _evaluation_lines(evaluation) + _scoring_lines(scoring)
  lines.append(verdict(plan, evaluation, scoring))
  return "\n".join(lines)


def plan_to_json(plan: step_plan.StepPlan, runs: list[step_plan.RunEstimate],
                 gin_files: list[str], model_source: str = "gin's ModelConfig",
                 evaluation: decode_plan.DecodePlan | None = None,
                 scoring: decode_plan.ScoringPlan | None = None) -> dict:
  """Every number of the report, for machines ("evaluation": the decoding, "scoring": the
  log-likelihood step; None where not planned or no task needs it)."""
  return {
      "gin_files": gin_files,
      "model_source": model_source,
      "fits": (plan.fits and (evaluation is None or evaluation.fits)
               and (scoring is None or scoring.fits)),
      "evaluation": None if evaluation is None else {
          **dataclasses.asdict(evaluation), "cache_length": evaluation.shape.cache_length},
      "scoring": None if scoring is None else dataclasses.asdict(scoring),
      "step": {**dataclasses.asdict(plan), "compiled_over_analytic": plan.compiled_over_analytic,
               "tokens_per_second_per_chip": plan.tokens_per_second_per_chip},
      "sweep": {
          "runs": [dataclasses.asdict(run) for run in runs],
          "total_steps": sum(run.steps for run in runs),
          "total_hours": sum(run.hours for run in runs),
          "total_chip_hours": sum(run.chip_hours for run in runs),
      },
  }


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  try:
    options, files, bindings = flags.parse(_parser(), argv)  # --help exits here, at once
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  # libtpu takes a machine-wide lock by default; compiling needs no TPU, so let several
  # plans (and tests) compile side by side. Set before libtpu loads.
  os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
  quiet_start.begin()
  from xlt_jax.core import atomic_io, paths
  from xlt_jax.evaluation import decode_plan
  from xlt_jax.models import base_checkpoint
  from xlt_jax.runner import gin_setup
  from xlt_jax.studies import designs
  from xlt_jax.training import step_plan

  def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

  try:
    experiment, _ = gin_setup.build_experiment(files, bindings)
    topology = options.topology or experiment.mesh.topology
    if topology is None:
      raise UserInputError("no --topology given and the mesh gin file sets no"
                           " MeshConfig.topology (e.g. --topology=v5e:16x16)")
    model, model_source = experiment.model, "gin's ModelConfig"
    if experiment.base_checkpoint is not None:  # its own architecture, as the launcher takes
      model, source = base_checkpoint.architecture(experiment.base_checkpoint, experiment.model)
      model_source = f"{source} (Experiment.base_checkpoint)"
    with quiet_start.native_stderr_filtered():  # libtpu's first load: "no TPU metadata"
      step_plan.topology_devices(topology)
    shape = scored_shape = None
    if not options.skip_evaluation:  # checked before anything compiles
      mesh, _ = step_plan.topology_mesh(experiment.mesh, topology)
      metric_of = _metrics(experiment.study)
      shape = decode_plan.decode_shape(experiment.evaluation, metric_of, mesh)
      scored_shape = decode_plan.scoring_shape(experiment.evaluation, metric_of, mesh)
    started = time.perf_counter()
    plan = step_plan.plan_train_step(
        model, experiment.optimizer, experiment.train, experiment.mesh, topology,
        options.mfu, progress=progress, flop_probes=not options.skip_flops)
    evaluation = None
    if shape is not None:
      progress(f"compiling the evaluation's decoding for {topology}: batch {shape.batch_size},"
               f" {shape.prompt_length} + {shape.max_new_tokens} tokens")
      evaluation = decode_plan.plan_decode(
          model, experiment.evaluation, shape, mesh,
          step_plan.chip_of(step_plan.topology_devices(topology)))
    scoring = None
    if scored_shape is not None:
      progress(f"compiling the evaluation's log-likelihood scoring for {topology}: batch"
               f" {scored_shape.batch_size}, {scored_shape.length} tokens")
      scoring = decode_plan.plan_scoring(
          model, scored_shape, mesh, step_plan.chip_of(step_plan.topology_devices(topology)))
    runs = step_plan.estimate_sweep(designs.plan_runs(experiment.study), experiment.train,
                                    plan.step_seconds, plan.chips)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  record = plan_to_json(plan, runs, files, model_source, evaluation, scoring)
  record["wall_seconds"] = time.perf_counter() - started
  if options.output:
    atomic_io.write_json(paths.absolute(options.output), record)
  print(json.dumps(record, indent=2) if options.json else
        format_report(plan, runs, model_source, evaluation,
                      evaluation_planned=not options.skip_evaluation, scoring=scoring),
        flush=True)
  return 0 if record["fits"] else 1


def _metrics(study) -> dict[str, str]:
  """Task -> the metric that scores its test set (its own, else its dataset's), for every
  test set of the study, as the evaluator reads them."""
  from tasks import mixtures

  return {evaluation.task: mixtures.evaluation_metric(evaluation)
          for evaluation in study.evaluation_sets()}


if __name__ == "__main__":
  sys.exit(main())
