"""The Aya evaluation suite: the three official parquet files, unchanged, into DATA_DIR."""


from tasks.formats import aya_evaluation
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file


def prepare(out_dir: str, source: str | None, fetcher: Fetcher, **unused) -> dict:
  """Writes DATA_DIR/aya_evaluation_suite/<subset>/test-00000-of-00001.parquet.

  `source` is a snapshot of the Hub repository (a directory with the three
  subset folders); without it each file comes from the Hub. Every file is
  checked to be parquet with the suite's columns before it is copied.
  """
  del unused
  written = []
  for subset in aya_evaluation.SUBSETS:
    relative = aya_evaluation.hub_file(subset)
    if source is None:
      local = fetcher.hub(aya_evaluation.HUB_REPO, relative)
    else:
      local = paths.join(source, relative)
      if not paths.isfile(local):
        raise UserInputError(f"{source} has no {relative} (expected a snapshot of"
                             f" {aya_evaluation.HUB_REPO})")
    aya_evaluation.read_table(local)  # fail before copying a file that is not the suite's
    destination = aya_evaluation.path_for(subset)(out_dir, "", "test")
    written.append(copy_file(local, destination))
  return {"dataset": "aya_evaluation_suite", "written": written}
