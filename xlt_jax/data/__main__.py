"""`python -m xlt_jax.data prepare DATASET --out DATA_DIR [--source FILE_OR_DIR]`,
`python -m xlt_jax.data translate DATASET --to=es,fr --engine=chat|google --out=DIR` and
`python -m xlt_jax.data complete sharegpt --model=NAME --languages=en,es --data_dir=DIR`
(the last two: xlt_jax/data/service_commands.py).

Writes the files the dataset's tasks read (layout: tasks/formats/<format>.py).
With --source, prepares from local files in the official release format;
without, downloads the official release (Hugging Face Hub or the publisher's
URL) into --cache_dir first. Bad input prints one `error: ...` line, exit 2.
"""

import argparse
import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence

from tasks.formats import alpaca_eval as alpaca_eval_format
from tasks.formats import mcot_math as mcot_math_format
from tasks.formats import mgsm_translated as mgsm_translated_format
from tasks.formats import okapi_mmlu as okapi_mmlu_format
from tasks.formats import rows
from tasks.formats import sharegpt as sharegpt_format
from tasks.formats import xcsqa as xcsqa_format
from tasks.formats import xlsum as xlsum_format
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import check_language
from xlt_jax.data import (
  aya_evaluation,
  evaluation_sets,
  mcot_math,
  mgsm,
  releases,
  service_commands,
  sharegpt,
  xlsum,
)
from xlt_jax.data.fetch import Fetcher

# Dataset name -> prepare(out_dir, source, fetcher, **options) -> summary.
PREPARERS: dict[str, Callable[..., dict]] = {
    "xlsum": xlsum.prepare,
    "sharegpt": sharegpt.prepare,
    "mcot_math": mcot_math.prepare,
    "aya_evaluation_suite": aya_evaluation.prepare,
    "mgsm": mgsm.prepare_mgsm,
    "mgsm_translated": mgsm.prepare_translated,
    "alpaca_eval_translated": releases.prepare_alpaca_eval_translated,
    "xcsqa": releases.prepare_xcsqa,
    "xnli": releases.prepare_xnli,
    "cmmlu": evaluation_sets.prepare_cmmlu,
    "ceval": evaluation_sets.prepare_ceval,
    "okapi_mmlu": evaluation_sets.prepare_okapi_mmlu,
    **{name: functools.partial(releases.prepare_files, name) for name in releases.RELEASES},
    **{name: functools.partial(releases.prepare_directory, name)
       for name in releases.DIRECTORY_RELEASES},
}

# The languages --languages may name, for the datasets prepared per language.
LANGUAGES = {
    "xlsum": xlsum_format.LANGUAGES,
    "sharegpt": sharegpt_format.LANGUAGES,
    "mcot_math": mcot_math_format.LANGUAGES,
    "mgsm_translated": mgsm_translated_format.LANGUAGES,
    "xcsqa": xcsqa_format.LANGUAGES,
    "okapi_mmlu": okapi_mmlu_format.LANGUAGES,
    "alpaca_eval_translated": tuple(code for code in alpaca_eval_format.LANGUAGES if code != "en"),
}


def prepare(dataset: str, out_dir: str, source: str | None, fetcher: Fetcher,
            **options) -> dict:
  """Prepares one dataset into `out_dir`; UserInputError lists the known names."""
  if dataset not in PREPARERS:
    raise UserInputError(f"unknown dataset {dataset!r}; prepare knows {', '.join(sorted(PREPARERS))}")
  if source is not None and not paths.exists(source):
    raise UserInputError(f"--source {source} does not exist")
  if options.get("languages"):
    if dataset not in LANGUAGES:
      raise UserInputError(f"{dataset} is prepared whole; --languages applies to"
                           f" {', '.join(sorted(LANGUAGES))}")
    for language in options["languages"]:
      check_language(language, LANGUAGES[dataset], f"{dataset} language")
  return PREPARERS[dataset](out_dir, source, fetcher, **options)


def _default_cache_dir(out_dir: str) -> str:
  """DATA_DIR/.downloads, or a local directory when DATA_DIR is a URL: the downloaders
  (huggingface_hub, urllib) write local files only."""
  if paths.is_local(out_dir):
    return os.path.join(out_dir, ".downloads")
  return os.path.join(tempfile.gettempdir(), "xlt_jax_downloads")


def _parser() -> argparse.ArgumentParser:
  examples = ("example: python -m xlt_jax.data prepare mgsm --out=/data/xlt\n"
              "example: python -m xlt_jax.data prepare xlsum --out=/data/xlt --languages=es,fr")
  parser = argparse.ArgumentParser(prog="python -m xlt_jax.data", description=__doc__,
                                   epilog=examples,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  command = commands.add_parser("prepare", help="write a dataset's files into DATA_DIR",
                                epilog=examples,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
  command.add_argument("dataset", help=f"one of {', '.join(sorted(PREPARERS))}")
  command.add_argument("--out", required=True, help="DATA_DIR")
  command.add_argument("--source", help="local official release (file or directory)")
  command.add_argument("--cache_dir", help="local download cache (default DATA_DIR/.downloads;"
                       " for a gs:// DATA_DIR, xlt_jax_downloads in the temporary directory)")
  command.add_argument("--languages", help="comma-separated codes (default: all of the dataset)")
  command.add_argument("--validation_fraction", type=float, default=0.001,
                       help="mcot_math: share of each language held out as validation")
  command.add_argument("--seed", type=int, default=0, help="mcot_math: validation selection seed")
  command.add_argument("--max_malformed_fraction", type=float,
                       default=rows.DEFAULT_POLICY.max_malformed_fraction,
                       help="fail when more rows than this share are malformed")
  command.add_argument("--min_language_confidence", type=float,
                       default=rows.DEFAULT_POLICY.min_language_confidence,
                       help="sharegpt: language-ID probability a prompt needs")
  service_commands.add_parsers(commands)
  return parser


def main(argv: Sequence[str] | None = None, fetcher: Fetcher | None = None,
         environ: Mapping[str, str] | None = None) -> int:
  arguments = _parser().parse_args(argv)
  if arguments.command != "prepare":
    run = {"translate": service_commands.run_translate,
           "complete": service_commands.run_complete}[arguments.command]
    try:
      return run(arguments, os.environ if environ is None else environ)
    except UserInputError as error:
      print(f"error: {error}", file=sys.stderr)
      return 2
  try:
    policy = rows.ReadPolicy(arguments.max_malformed_fraction, arguments.min_language_confidence)
    fetcher = fetcher or Fetcher(arguments.cache_dir or _default_cache_dir(arguments.out))
    languages = tuple(arguments.languages.split(",")) if arguments.languages else None
    summary = prepare(arguments.dataset, arguments.out, arguments.source, fetcher,
                      languages=languages, policy=policy, seed=arguments.seed,
                      validation_fraction=arguments.validation_fraction)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(json.dumps(summary, indent=2, ensure_ascii=False))
  return 0


if __name__ == "__main__":
  sys.exit(main())
