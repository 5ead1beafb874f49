"""Writes the demo dataset on its own: templated arithmetic word problems in 8 languages.

    python -m xlt_jax.demo_data --out=DIR [--train=1000 --validation=32 --test=250]

The same files the launcher generates when `DATA_DIR` is None (`xlt_jax.data.demo`),
in MGSM format under `DIR/demo_arith/<split>/<language>.tsv`; the defaults are the
sizes `gin/demo_cpu.gin` trains and evaluates on.
"""

import argparse
import os
import sys

from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo


def main(argv: list[str] | None = None) -> int:
  """Writes the demo dataset; prints `error: ...` and returns 2 on bad input."""
  parser = argparse.ArgumentParser(
      prog="python -m xlt_jax.demo_data",
      description="Writes the demo arithmetic word problems in MGSM format.",
      epilog="example: python -m xlt_jax.demo_data --out=/tmp/demo_data",
  )
  sizes = demo.DEFAULT_SPLIT_SIZES
  parser.add_argument("--out", required=True, help="data directory; files go to OUT/demo_arith/")
  parser.add_argument("--train", type=int, default=sizes["train"], help="problems per language")
  parser.add_argument("--validation", type=int, default=sizes["validation"],
                      help="problems per language")
  parser.add_argument("--test", type=int, default=sizes["test"], help="problems per language")
  parser.add_argument("--seed", type=int, default=0, help="shuffling seed")
  arguments = parser.parse_args(argv)
  try:
    written = demo.write_demo_dataset(
        arguments.out,
        {"train": arguments.train, "validation": arguments.validation, "test": arguments.test},
        seed=arguments.seed,
    )
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(f"wrote {len(written)} files under {os.path.join(arguments.out, 'demo_arith')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
