"""XLSum: the official per-language archives (or their extracted jsonl files) into DATA_DIR/xlsum.

The Hub release (https://huggingface.co/datasets/csebuetnlp/xlsum) keeps one archive
per language, `data/<name>_XLSum_v2.0.tar.bz2`, with the language name in lower case as
the dataset's config names write it (`data/spanish_XLSum_v2.0.tar.bz2`,
`data/chinese_simplified_XLSum_v2.0.tar.bz2`): its loading script xlsum.py formats
`_URL = ".../resolve/main/data/{}_XLSum_v{}.tar.bz2"` with the config name and version
"2.0", and reads `<name>_train.jsonl`, `<name>_val.jsonl` and `<name>_test.jsonl` from
the extracted folder (as quoted by SEACrowd's and DataLab's xl_sum loaders, which load
the same URLs). The members are stored as `./<name>_<split>.jsonl`; only their base
names are matched.
"""

import os
import shutil
import tarfile

from tasks.formats import xlsum
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.data.fetch import Fetcher
from xlt_jax.data.outputs import copy_file

HUB_REPO = "csebuetnlp/xlsum"


def archive_name(language: str) -> str:
  """E.g. "es" -> "spanish_XLSum_v2.0.tar.bz2", "zh" -> "chinese_simplified_XLSum_v2.0.tar.bz2"
  (the release's file name: the language name in lower case)."""
  return f"{xlsum.XLSUM_NAMES[language]}_XLSum_v2.0.tar.bz2"


def _extract(archive: str, language: str, out_dir: str) -> list[str]:
  wanted = {xlsum.file_name(language, split): split for split in xlsum.SPLITS}
  written = []
  # tarfile reads archives by seeking: a gs:// archive is read from a local copy.
  with paths.local_file(archive) as local, tarfile.open(local, "r:*") as tar:
    for member in tar.getmembers():
      name = os.path.basename(member.name)
      if member.isfile() and name in wanted:
        destination = xlsum.path(out_dir, language, wanted[name])
        with tar.extractfile(member) as file:
          atomic_io.write_atomically(
              destination, lambda output: shutil.copyfileobj(file, output, 1 << 20), mode="wb")
        written.append(destination)
  if len(written) != len(wanted):
    raise UserInputError(f"{archive}: expected {', '.join(sorted(wanted))} inside")
  return written


def prepare(out_dir: str, source: str | None, fetcher: Fetcher,
            languages: tuple[str, ...] | None = None, **unused) -> dict:
  """Writes DATA_DIR/xlsum/<name>_<train|val|test>.jsonl for each language.

  `source` is a directory holding the release archives or the extracted jsonl
  files; without it each language's archive comes from the Hub.
  """
  del unused
  written = []
  for language in languages or xlsum.LANGUAGES:
    if source is None:
      written += _extract(fetcher.hub(HUB_REPO, f"data/{archive_name(language)}"), language, out_dir)
      continue
    archive = paths.join(source, archive_name(language))
    if paths.isfile(archive):
      written += _extract(archive, language, out_dir)
      continue
    for split in xlsum.SPLITS:
      extracted = paths.join(source, xlsum.file_name(language, split))
      if not paths.isfile(extracted):
        raise UserInputError(f"{source} has neither {archive_name(language)} nor"
                             f" {xlsum.file_name(language, split)}")
      written.append(copy_file(extracted, xlsum.path(out_dir, language, split)))
  return {"dataset": "xlsum", "written": sorted(written)}
