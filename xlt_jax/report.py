"""Writes the report of one or more studies, or summarizes one of a paper's own tables.

    python -m xlt_jax.report --results_dir=MODEL_DIR [--results_dir=OTHER ...] [--out_dir=DIR]
        [--metric=NAME] [--resamples=2000] [--seed=0]
    python -m xlt_jax.report --paper_table=FILE.tsv [--seen=es,fr,ja,zh --unseen=ar,ko,pt] [--json]

With --results_dir (repeatable: one report across studies): reads each study's
`study.json` and its runs' `eval/metrics.json` (single- or multi-task) and
`eval/predictions.jsonl`, and writes `report.md`, a self-contained `report.html`, CSVs of
every table and PNG + SVG figures (into RESULTS_DIR/report for one study). With
--paper_table: prints the quantities a paper's language x budget table gives (seen/unseen
means, relative to English, gap bridged, Spearman over the columns) and where the paper's
own statements disagree with it, as markdown or JSON. The work is done by
`xlt_jax.reporting.report` and `xlt_jax.reporting.paper_tables`; this module only parses flags.
"""

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.report", description=__doc__.split("\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter,
      epilog="example: python -m xlt_jax.report --results_dir=xlt_runs/demo_cpu\n"
      "example: python -m xlt_jax.report --json"
      " --paper_table=tests/data/paper_tables/post_trainers_guide/table_04.tsv")
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--results_dir", action="append", help="a study's MODEL_DIR; give it"
                      " several times for one report across studies")
  source.add_argument("--paper_table", help="a paper's language x budget table (TSV or CSV)")
  parser.add_argument("--out_dir", default=None,
                      help="with --results_dir; default: RESULTS_DIR/report (one study)")
  parser.add_argument("--metric", default=None, help="with --results_dir: only the tables of"
                      " this metric (default: every task's own metric)")
  parser.add_argument("--resamples", type=int, default=None,
                      help="with --results_dir: bootstrap resamples (default 2000)")
  parser.add_argument("--seed", type=int, default=None,
                      help="with --results_dir: bootstrap and split seed (default 0)")
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
  from xlt_jax.reporting import report, results, statistics

  out_dir = report.out_dir_for(args.results_dir, args.out_dir)
  studies = [results.collect_results(directory) for directory in args.results_dir]
  written = report.write_report(
      results.select_metric(studies, args.metric), out_dir,
      statistics.DEFAULT_RESAMPLES if args.resamples is None else args.resamples,
      statistics.DEFAULT_SEED if args.seed is None else args.seed)
  for study in studies:
    for line in study.missing:
      print(f"warning: {study.name}: missing results: {line}", file=sys.stderr)
  print(written["report"])
  return 0


def main(argv: list[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.paper_table is None and (args.seen is not None or args.unseen is not None or args.json):
    parser.error("--seen, --unseen and --json go with --paper_table")
  if args.results_dir is None and any(
      value is not None for value in (args.out_dir, args.metric, args.resamples, args.seed)):
    parser.error("--out_dir, --metric, --resamples and --seed go with --results_dir")
  if args.resamples is not None and args.resamples < 1:
    parser.error("--resamples must be at least 1")
  from xlt_jax.core.errors import UserInputError

  try:
    return _paper_table(args) if args.paper_table is not None else _study_report(args)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
