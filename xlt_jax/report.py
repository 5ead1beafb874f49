"""Writes a study's report, or summarizes one of a paper's own tables to compare with it.

    python -m xlt_jax.report --results_dir=MODEL_DIR [--out_dir=MODEL_DIR/report]
    python -m xlt_jax.report --paper_table=FILE.tsv [--seen=es,fr,ja,zh --unseen=ar,ko,pt] [--json]

With --results_dir: reads `study.json` and each run's `eval/metrics.json` under the results
directory and writes `report.md`, `table.csv`, `summary.csv`, `scores_by_budget.png` and
`relative_to_english.png` (into `report/` by default). With --paper_table: prints the
quantities a paper's language x budget table gives (seen/unseen means, relative to
English, gap bridged, Spearman over the columns) and where the paper's own statements
disagree with it, as markdown or JSON. The work is done by `xlt_jax.reporting.report`
and `xlt_jax.reporting.paper_tables`; this module only parses flags.
"""

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.report", description=__doc__.split("\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter,
      epilog="example: python -m xlt_jax.report --results_dir=xlt_runs/demo_cpu\n"
      "example: python -m xlt_jax.report --json"
      " --paper_table=tests/data/paper_tables/post_trainers_guide/table_04.tsv")
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--results_dir", help="a study's MODEL_DIR")
  source.add_argument("--paper_table", help="a paper's language x budget table (TSV or CSV)")
  parser.add_argument("--out_dir", default=None,
                      help="with --results_dir; default: RESULTS_DIR/report")
  parser.add_argument("--seen", default=None, help="with --paper_table: seen languages, e.g."
                      " es,fr,ja,zh (default: the training languages in index.json beside it)")
  parser.add_argument("--unseen", default=None, help="with --paper_table: unseen languages"
                      " (default: the rows index.json does not list as training languages)")
  parser.add_argument("--json", action="store_true", help="with --paper_table: print JSON")
  return parser


def _paper_table(args: argparse.Namespace) -> int:
  from xlt_jax.reporting import paper_tables

  seen = paper_tables.parse_languages(args.seen, "seen") if args.seen is not None else None
  unseen = paper_tables.parse_languages(args.unseen, "unseen") if args.unseen is not None else None
  summary = paper_tables.summarize_paper_table(args.paper_table, seen, unseen)
  print(paper_tables.to_json(summary) if args.json else paper_tables.markdown(summary), end="")
  return 0


def _study_report(args: argparse.Namespace) -> int:
  from xlt_jax.reporting import report

  results = report.collect_results(args.results_dir)
  paths = report.write_report(results, args.out_dir or os.path.join(args.results_dir, "report"))
  if results.missing_runs:
    print(f"warning: {len(results.missing_runs)} of {len(results.study['runs'])} runs have no"
          f" {report.METRICS_FILE} and are left out of the report: "
          + ", ".join(run["name"] for run in results.missing_runs), file=sys.stderr)
  print(paths["report"])
  return 0


def main(argv: list[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.paper_table is None and (args.seen is not None or args.unseen is not None or args.json):
    parser.error("--seen, --unseen and --json go with --paper_table")
  if args.results_dir is None and args.out_dir is not None:
    parser.error("--out_dir goes with --results_dir")
  from xlt_jax.core.errors import UserInputError

  try:
    return _paper_table(args) if args.paper_table is not None else _study_report(args)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
