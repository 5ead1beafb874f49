"""Will an experiment fit, and what will its sweep cost? Compiles the real train step for
a TPU topology on this machine (libtpu, abstract shapes: no TPU needed).

    python -m xlt_jax.plan --gin_file=gin/aya35b_multitask.gin [--topology=v5e:16x16]
        [--mfu=0.4] [--skip_flops] [--json] [--output=plan.json] [--gin.NAME=VALUE ...]

Prints per-chip memory (parameters, optimizer state, temporaries) against the
chip's HBM, compiled against analytic FLOPs, the step time at the stated MFU beside
libtpu's own estimate of it, and the chip-hours of the experiment's sweep. A mesh
that does not fit --topology has its fsdp axis resized to fit (printed).
--skip_flops compiles the step only (no FLOP probes): memory and the verdict.
Exit status: 0 FITS, 1 DOES NOT FIT, 2 with a one-line `error:` for bad input (gin
typo, unknown topology, a mesh that cannot be fitted to the topology's chip count).
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
  from xlt_jax.training import step_plan

DEFAULT_MFU = 0.4  # a stated assumption for fine-tuning unpacked sequences, not a measurement
GIB = 2**30
PROG = "python -m xlt_jax.plan"


def _parser():
  parser = flags.gin_parser(
      PROG, "Compiles an experiment's train step for a TPU topology (no TPU needed): memory\n"
      "per chip, FLOPs, step time and the sweep's chip-hours. Exit 0 FITS, 1 DOES NOT FIT,\n"
      "2 bad input.",
      "--gin_file=FILE [--topology=T] [--mfu=X] [--skip_flops] [--json] [--output=PATH]"
      " [--gin.NAME=VALUE ...]",
      [f"{PROG} --gin_file=gin/aya8b_single_task.gin",
       f"{PROG} --gin_file=gin/smoke_cpu.gin --topology=v5e:2x2 --json"])
  parser.add_argument("--topology", metavar="T", help="libtpu topology, e.g. v5e:16x16 (default: the mesh"
                      " gin file's MeshConfig.topology)")
  parser.add_argument("--mfu", type=float, default=DEFAULT_MFU, metavar="X",
                      help=f"assumed model FLOPs utilisation for the step time (default {DEFAULT_MFU})")
  parser.add_argument("--skip_flops", action="store_true",
                      help="answer FITS / DOES NOT FIT from one compile, without the FLOP probes")
  parser.add_argument("--json", action="store_true", help="print the plan as JSON")
  parser.add_argument("--output", metavar="PATH", help="also write the JSON plan to PATH")
  return parser


def _gib(value: float) -> str:
  return f"{value / GIB:8.2f} GiB"


def format_report(plan: step_plan.StepPlan, runs: list[step_plan.RunEstimate]) -> str:
  """The human-readable table: memory, FLOPs, step time, sweep, verdict (last line)."""
  mesh = " x ".join(f"{axis} {size}" for axis, size in plan.mesh_shape.items())
  lines = [
      f"topology        {plan.topology}: {plan.chips} x {plan.chip}, mesh {mesh}",
  ]
  if plan.mesh_derived_from:
    gin_mesh = " x ".join(f"{axis} {size}" for axis, size in plan.mesh_derived_from.items())
    lines.append(f"  derived       from gin's mesh {gin_mesh} for {plan.chips} chips (fsdp takes"
                 " what tensor, data and slice leave)")
  lines += [
      f"step            batch {plan.batch_size} x {plan.sequence_length} tokens,"
      f" {plan.num_microbatches} microbatch(es), {plan.parameter_count / 1e9:.2f}B parameters",
      "memory per chip",
      f"  parameters    {_gib(plan.parameter_bytes)}",
      f"  optimizer     {_gib(plan.optimizer_bytes)}",
      f"  arguments     {_gib(plan.argument_bytes)}  (parameters + optimizer state + batch)",
      f"  temporaries   {_gib(plan.temporary_bytes)}  (activations, gradients, scratch)",
      f"  total         {_gib(plan.total_bytes)}  of {plan.hbm_bytes / GIB:.0f} GiB HBM"
      f" ({100 * plan.total_bytes / plan.hbm_bytes:.0f}%)",
      "FLOPs per chip per step",
      f"  analytic      {plan.analytic_flops / 1e12:10.2f} TFLOP  (6 x matmul params x tokens"
      " + attention)",
  ]
  if plan.compiled_flops is None and plan.compiler_message is None:
    lines.append("  compiled      skipped (--skip_flops: no FLOP probes compiled)")
  elif plan.compiled_flops is None:
    lines.append(f"  compiled      not compiled: {plan.compiler_message}")
  else:
    lines += [
        f"  compiled      {plan.compiled_flops / 1e12:10.2f} TFLOP  (XLA, all layers;"
        f" {plan.compiled_over_analytic:.2f} x analytic: remat recomputes the forward pass)",
        f"  loop once     {plan.compiled_flops_loop_body_once / 1e12:10.2f} TFLOP  (XLA's raw"
        " count: the scanned layer body counted once)",
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
  lines.append("FITS" if plan.fits else
               f"DOES NOT FIT: {plan.total_bytes / GIB:.2f} GiB per chip >"
               f" {plan.hbm_bytes / GIB:.0f} GiB HBM")
  return "\n".join(lines)


def plan_to_json(plan: step_plan.StepPlan, runs: list[step_plan.RunEstimate],
                 gin_files: list[str]) -> dict:
  """Every number of the report, for machines."""
  return {
      "gin_files": gin_files,
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
  from xlt_jax.runner import gin_setup
  from xlt_jax.studies import designs
  from xlt_jax.training import step_plan

  try:
    experiment, _ = gin_setup.build_experiment(files, bindings)
    topology = options.topology or experiment.mesh.topology
    if topology is None:
      raise UserInputError("no --topology given and the mesh gin file sets no"
                           " MeshConfig.topology (e.g. --topology=v5e:16x16)")
    with quiet_start.native_stderr_filtered():  # libtpu's first load: "no TPU metadata"
      step_plan.topology_devices(topology)
    started = time.perf_counter()
    plan = step_plan.plan_train_step(
        experiment.model, experiment.optimizer, experiment.train, experiment.mesh, topology,
        options.mfu, progress=lambda message: print(message, file=sys.stderr, flush=True),
        flop_probes=not options.skip_flops)
    runs = step_plan.estimate_sweep(designs.plan_runs(experiment.study), experiment.train,
                                    plan.step_seconds, plan.chips)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  record = plan_to_json(plan, runs, files)
  record["wall_seconds"] = time.perf_counter() - started
  if options.output:
    atomic_io.write_json(paths.absolute(options.output), record)
  print(json.dumps(record, indent=2) if options.json else format_report(plan, runs), flush=True)
  return 0 if plan.fits else 1


if __name__ == "__main__":
  sys.exit(main())
