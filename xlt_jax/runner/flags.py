"""Command lines of the gin-configured binaries (launch, plan): argparse for `--help` and
the binary's own flags, t5x-style `--gin_file=F` and `--gin.NAME=VALUE` for gin.

Imports nothing heavy, so `--help` and flag mistakes are answered before JAX or
TensorFlow load. Mistakes are a UserInputError (the binaries print one `error:` line,
exit 2), not argparse's usage-and-error pair.
"""

import argparse

from xlt_jax.core.errors import UserInputError

GIN_PREFIX = "--gin."
GIN_FLAGS_HELP = """\
gin values:
  --gin.NAME=VALUE  sets one gin value after the gin files (repeatable). VALUE is a
                    Python literal: quote strings (--gin.MODEL_DIR="'/tmp/run'"), give
                    tuples whole (--gin.StudyDesign.budgets="(0, 100)")
"""


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose mistakes are UserInputErrors (one line, exit 2)."""

  def error(self, message: str):
    raise UserInputError(f"{message} (see {self.prog} --help)")


def gin_parser(prog: str, description: str, usage: str, examples: list[str]) -> argparse.ArgumentParser:
  """A parser that knows `--gin_file`; the binary adds its own flags.

  Args:
    prog: how the binary is run, e.g. "python -m xlt_jax.launch".
    description: one or more lines shown under the usage line.
    usage: the flags after `prog` in the usage line.
    examples: full command lines, each printed as an `example:` line.
  """
  parser = _Parser(prog=prog, usage=f"{prog} {usage}", description=description,
                   epilog=GIN_FLAGS_HELP + "\n" + "\n".join(f"example: {e}" for e in examples),
                   formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
  parser.add_argument("--gin_file", action="append", default=[], metavar="FILE",
                      help="a gin file; repeatable, later files override earlier ones. A"
                      " relative path is looked up in the current directory, then in the"
                      " repository")
  return parser


def gin_binding(argument: str) -> str:
  """`--gin.NAME=VALUE` -> the gin binding `NAME = VALUE` (as in t5x)."""
  name, _, value = argument[len(GIN_PREFIX):].partition("=")
  if not name or not value:
    raise UserInputError(f"gin flag {argument!r} must look like --gin.NAME=VALUE")
  return f"{name} = {value}"


def binding_flag(binding: str) -> str:
  """The inverse of `gin_binding`: `NAME = VALUE` -> `--gin.NAME=VALUE`, for messages."""
  name, _, value = binding.partition(" = ")
  return f"{GIN_PREFIX}{name}={value}"


def split_gin_flags(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
  """Splits argv into (gin files, gin bindings, the rest), keeping their order.

  `--gin_file=F` (repeatable) names a file and `--gin.NAME=VALUE` becomes the
  binding `NAME = VALUE`.
  """
  files, bindings, rest = [], [], []
  for argument in argv:
    if argument.startswith("--gin_file="):
      files.append(argument.split("=", 1)[1])
    elif argument.startswith(GIN_PREFIX):
      bindings.append(gin_binding(argument))
    else:
      rest.append(argument)
  return files, bindings, rest


def parse(parser: argparse.ArgumentParser,
          argv: list[str]) -> tuple[argparse.Namespace, list[str], list[str]]:
  """Parses a command line of `gin_parser`'s parser.

  `--help` prints the help and exits 0 here, before anything heavy is imported.

  Returns:
    (the parsed flags, gin files in order, gin bindings in order).

  Raises:
    UserInputError: an unknown or malformed flag, or no --gin_file.
  """
  bindings = [gin_binding(argument) for argument in argv if argument.startswith(GIN_PREFIX)]
  arguments = parser.parse_args([argument for argument in argv
                                 if not argument.startswith(GIN_PREFIX)])
  if not arguments.gin_file:
    raise UserInputError("no --gin_file given (e.g. --gin_file=gin/demo_cpu.gin)")
  return arguments, list(arguments.gin_file), bindings
