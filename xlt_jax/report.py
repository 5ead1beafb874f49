"""Writes a study's report: the paper-style language x budget table, derived rows and plots.

    python -m xlt_jax.report --results_dir=MODEL_DIR [--out_dir=MODEL_DIR/report]

Reads `study.json` and each run's `eval/metrics.json` under the results directory and
writes `report.md`, `table.csv`, `summary.csv`, `scores_by_budget.png` and
`relative_to_english.png` (into `report/` by default). The work is done by
`xlt_jax.reporting.report`; this module only parses flags.
"""

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.report", description=__doc__.split("\n")[0],
      epilog="example: python -m xlt_jax.report --results_dir=xlt_runs/demo_cpu",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--results_dir", required=True, help="a study's MODEL_DIR")
  parser.add_argument("--out_dir", default=None, help="default: RESULTS_DIR/report")
  return parser


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  from xlt_jax.core.errors import UserInputError
  from xlt_jax.reporting import report

  try:
    results = report.collect_results(args.results_dir)
    paths = report.write_report(results, args.out_dir or os.path.join(args.results_dir, "report"))
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  if results.missing_runs:
    print(f"warning: {len(results.missing_runs)} of {len(results.study['runs'])} runs have no"
          f" {report.METRICS_FILE} and are left out of the report: "
          + ", ".join(run["name"] for run in results.missing_runs), file=sys.stderr)
  print(paths["report"])
  return 0


if __name__ == "__main__":
  sys.exit(main())
