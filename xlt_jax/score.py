"""Scores a predictions file with one metric and prints the scores per language.

    python -m xlt_jax.score rouge FILE [--json] [--no_stemmer]
    python -m xlt_jax.score language_confusion OUTPUTS.csv|PREDICTIONS.jsonl [--json]
    python -m xlt_jax.score qa FILE [--json] [--normalisation squad|mlqa|strict]
                               [--postprocess none|p3]
    python -m xlt_jax.score api_call FILE [--json]
    python -m xlt_jax.score mgsm FILE [--json]
    python -m xlt_jax.score mgsm_cot FILE [--json]

FILE is JSONL, one item a line, e.g. {"language": "es", "prediction": "...", "reference":
"..."}; each metric names the fields it needs. `rouge` prints each language's mean
ROUGE-1/2/L F-measure (0-1) with XL-Sum's multilingual tokenization, stemming by default
where the language has a stemmer (ar bn en es fr hi pt ru tr; XL-Sum evaluates with
stemming on); `--no_stemmer` turns it off. `qa` prints extractive-QA exact match, F1 and
"include" (XQuAD, TyDi QA), `api_call` API-call exact match and the unparseable share (P4),
`mgsm` accuracy and the share of completions without a number (`mgsm_cot`: the
chain-of-thought styles' final number and exact match). `--json` prints
{"<language>": {"<score>": value}} (e.g. {"es": {"rouge1": F, "rouge2": F, "rougeL": F}}),
every value in 0-1 except LCB's percentages, otherwise a table. Bad input prints one
`error:` line naming file and line and exits 2. The work is done by `xlt_jax.evaluation`
(`rouge.py`, `language_confusion.py`, `qa_metrics.py`, `api_calls.py`, `mgsm_accuracy.py`);
this module only parses flags.

A metric is one `Subcommand` in SUBCOMMANDS: its name, help texts, extra flags and a
`score` function of the parsed flags that returns {language: {score name: value}}; every
subparser also gets the shared FILE and --json flags.
"""

import argparse
import dataclasses
import functools
import json
import sys
from collections.abc import Callable

_EXAMPLE = """example: python -m xlt_jax.score rouge predictions.jsonl --json
  where predictions.jsonl holds lines like
  {"language": "es", "prediction": "El gato duerme.", "reference": "El perro duerme."}
  and prints {"es": {"rouge1": 0.6666666666666666, "rouge2": 0.0, "rougeL": 0.6666666666666666}}"""


@dataclasses.dataclass(frozen=True)
class Subcommand:
  """One metric: its name, help texts, extra flags (argparse flag names -> add_argument
  keywords) and `score`, a function of the parsed flags -> {language: {score: value}}."""

  name: str
  help: str
  description: str
  epilog: str
  score: Callable[[argparse.Namespace], dict]
  flags: tuple[tuple[str, dict], ...] = ()


def _score_rouge(args: argparse.Namespace) -> dict[str, dict[str, float]]:
  from xlt_jax.evaluation import rouge

  return rouge.score_file(args.file, use_stemmer=not args.no_stemmer)


def _score_language_confusion(args: argparse.Namespace) -> dict:
  from xlt_jax.evaluation import language_confusion

  if args.file.endswith(".csv"):
    return language_confusion.score_outputs_csv(args.file)
  return language_confusion.score_predictions_jsonl(args.file)


def _score_qa(args: argparse.Namespace) -> dict[str, dict[str, float]]:
  from xlt_jax.evaluation import qa_metrics

  return qa_metrics.score_file(args.file, args.normalisation, args.postprocess)


def _score_api_call(args: argparse.Namespace) -> dict[str, dict[str, float]]:
  from xlt_jax.evaluation import api_calls

  return api_calls.score_file(args.file)


def _score_mgsm(args: argparse.Namespace, chain_of_thought: bool = False) -> dict:
  from xlt_jax.evaluation import mgsm_accuracy

  return mgsm_accuracy.score_file(args.file, chain_of_thought)


_MGSM_EXAMPLE = ('  where each line holds e.g.\n'
                 '  {"language": "es", "prediction": "... La respuesta es 18.", "answer": "18"}')

# One entry per metric subcommand.
SUBCOMMANDS = (
    Subcommand(
        "rouge",
        help="ROUGE-1/2/L F-measures as XL-Sum computes them (fields: language, prediction,"
             " reference)",
        description="Mean ROUGE-1/2/L F-measure (0-1) per language, as XL-Sum's multilingual\n"
                    "ROUGE computes it: segmentation with jieba (zh), MeCab + unidic-lite (ja)"
                    " and\nPyThaiNLP newmm (th), and stemming for ar bn en es fr hi pt ru tr"
                    " (default).",
        epilog=_EXAMPLE, score=_score_rouge,
        flags=(("--no_stemmer", {"action": "store_true", "help": "do not stem (default: stem"
                                 " where the language has a stemmer)"}),)),
    Subcommand(
        "language_confusion",
        help="the Language Confusion Benchmark's line- and word-level pass rates (LPR, WPR), in"
             " percent",
        description="LPR and WPR (percent) by the Language Confusion Benchmark's rules,"
                    " offline:\nFILE is either LCB's released output CSV (id,model,completion,"
                    "task,source,\nlanguage), scored per model and task, or a predictions JSONL"
                    " (fields:\nlanguage, prediction).",
        epilog="example: python -m xlt_jax.score language_confusion"
               " tests/data/language_confusion/outputs/command-r.csv --json",
        score=_score_language_confusion),
    Subcommand(
        "qa",
        help="extractive-QA exact match, F1 and include, XQuAD / TyDi QA (fields: language,"
             " prediction, reference or answer or answers)",
        description="Mean exact match, token F1 and \"include\" (a reference is a substring of\n"
                    "the prediction) per language, in 0-1, each the best over the item's\n"
                    "references (`reference`, `answer` or `answers`: a string or a list).\n"
                    "Normalisation before comparing:\n"
                    "  squad   the official SQuAD v1.1 script's (default; XTREME's for XQuAD\n"
                    "          and TyDi QA GoldP; P2's SQuAD-style TyDi QA F1)\n"
                    "  mlqa    the official MLQA script's, per language (Unicode punctuation,\n"
                    "          articles of en es de vi ar, per-character zh and ja)\n"
                    "  strict  surrounding whitespace only (P2's XQuAD \"strict string-level\n"
                    "          exact match\" and \"include\")\n"
                    "--postprocess p3 first strips the echoed question (field `question`) and\n"
                    "keeps the first line, at most 50 characters, as P3 did for XQuAD.",
        epilog="example: python -m xlt_jax.score qa predictions.jsonl --json\n"
               "  where predictions.jsonl holds lines like\n"
               '  {"language": "es", "prediction": "el río Rin", "answers": ["Rin", "el Rin"]}\n'
               '  and prints {"es": {"exact_match": 0.0, "f1": 0.8, "include": 1.0}}',
        score=_score_qa,
        flags=(("--normalisation", {"choices": ("squad", "mlqa", "strict"), "default": "squad",
                                    "help": "how answers are normalised before comparing"
                                            " (default: squad)"}),
               ("--postprocess", {"choices": ("none", "p3"), "default": "none",
                                  "help": "clean the prediction first: p3 = P3's XQuAD rule"
                                          " (default: none)"}))),
    Subcommand(
        "api_call",
        help="API-call exact match and unparseable share, P4 (fields: language, prediction,"
             " answer)",
        description="Share of outputs whose API call has the reference's name, argument names\n"
                    "and values (P4's exact match), and share of outputs that are no call,\n"
                    "per language, in 0-1. An output is read as Name(key=value, ...) with\n"
                    "Python or JSON literal values, as API-Bank's [Name(key='value')] (after\n"
                    "an optional \"API-Request:\"), or as {\"name\": ..., \"arguments\":"
                    " {...}};\nelse its first non-blank line is. The reference (`answer` or"
                    " `reference`)\nis the API-calling task's answer, {\"arguments\": {...},"
                    " \"name\": ...}.",
        epilog="example: python -m xlt_jax.score api_call predictions.jsonl --json\n"
               "  where predictions.jsonl holds lines like\n"
               '  {"language": "es", "prediction": "GetWeather(city=\\"París\\")",\n'
               '   "answer": "{\\"arguments\\": {\\"city\\": \\"París\\"},'
               ' \\"name\\": \\"GetWeather\\"}"}\n'
               '  and prints {"es": {"exact_match": 1.0, "unparseable": 0.0}}',
        score=_score_api_call),
    Subcommand(
        "mgsm",
        help="MGSM accuracy and the share of completions with no number (fields: language,"
             " prediction, answer)",
        description="Accuracy per language (0-1), the answer read from each completion as the\n"
                    "evaluation binary reads it (the first number after the last answer"
                    " phrase,\ne.g. \"The answer is\", else the last number), and the share of"
                    " completions\nwith no number (invalid). Scores the eval binary's"
                    " eval/predictions.jsonl.",
        epilog="example: python -m xlt_jax.score mgsm"
               " MODEL_DIR/runs/budget00050/eval/predictions.jsonl\n" + _MGSM_EXAMPLE,
        score=_score_mgsm),
    Subcommand(
        "mgsm_cot",
        help="MGSM accuracy of the chain-of-thought styles (P2's 5-shot, P4's trigger phrases)"
             " and the share with no number (fields: language, prediction, answer)",
        description="Accuracy per language (0-1) as lm-evaluation-harness scores its MGSM\n"
                    "chain-of-thought tasks and the evaluator scores `cot_accuracy`: the last\n"
                    "number of the completion (its flexible-extract filter), equal to the\n"
                    "reference after lower-casing and deleting punctuation (its exact_match);\n"
                    "and the share of completions with no number (invalid).",
        epilog="example: python -m xlt_jax.score mgsm_cot predictions.jsonl --json\n"
               + _MGSM_EXAMPLE,
        score=functools.partial(_score_mgsm, chain_of_thought=True)),
)


def _add(commands, shared: argparse.ArgumentParser, subcommand: Subcommand) -> None:
  parser = commands.add_parser(
      subcommand.name, parents=[shared], formatter_class=argparse.RawDescriptionHelpFormatter,
      help=subcommand.help, description=subcommand.description, epilog=subcommand.epilog)
  for flag, options in subcommand.flags:
    parser.add_argument(flag, **options)
  parser.set_defaults(score=subcommand.score)


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.score", description=__doc__.split("\n")[0],
      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EXAMPLE)
  shared = argparse.ArgumentParser(add_help=False)
  shared.add_argument("file", metavar="FILE", help="predictions, JSONL (one item a line)")
  shared.add_argument("--json", action="store_true", help="print the scores as one JSON object")
  commands = parser.add_subparsers(dest="metric", required=True, metavar="METRIC")
  for subcommand in SUBCOMMANDS:
    _add(commands, shared, subcommand)
  return parser


def _rows(scores: dict, prefix: str = "") -> dict[str, dict[str, float]]:
  """Nested scores flattened to rows: the keys above the innermost {name: value} level
  joined by "/" (e.g. "command-r/monolingual/lpr")."""
  rows = {}
  for key, value in scores.items():
    name = f"{prefix}/{key}" if prefix else str(key)
    if all(isinstance(inner, (int, float)) for inner in value.values()):
      rows[name] = value
    else:
      rows.update(_rows(value, name))
  return rows


def _table(scores: dict) -> str:
  """One row per language (or per model/task/metric for nested scores), 4 decimals."""
  nested = _rows(scores).keys() != scores.keys()
  scores = _rows(scores)
  names = list(dict.fromkeys(name for row in scores.values() for name in row))
  lines = ["\t".join(["scores" if nested else "language", *names])]
  for language, row in scores.items():
    lines.append("\t".join([language, *(f"{row[name]:.4f}" if name in row else "-"
                                        for name in names)]))
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  from xlt_jax.core.errors import UserInputError

  try:
    scores = args.score(args)
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(json.dumps(scores, ensure_ascii=False) if args.json else _table(scores))
  return 0


if __name__ == "__main__":
  sys.exit(main())
