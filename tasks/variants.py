"""Variant datasets: a translated or round-trip-translated copy of a dataset, `<base>_<variant>`.

A variant reads the same official format as its base, laid out as the base is, under
the variant's own root:

    DATA_DIR/variants/<variant>/<the base's layout>

e.g. `aya_dataset_translated_google` reads
`DATA_DIR/variants/translated_google/aya_dataset/data/train-00000-of-00001.parquet`,
and `guanaco_translated` reads
`DATA_DIR/variants/translated/guanaco/openassistant_best_replies_train.jsonl`.

Guarantees:

- ids are the base reader's row keys under the variant's own task name
  ("aya_dataset_translated_google_es_train:17"), so native and translated ids never
  collide, in a manifest or in a mixture;
- provenance names the variant file (path and sha256, like any source) and tags the
  variant, its base dataset and how it was made (engine, single pass or round trip);
- pooling: a row that translates an item of a pool's source (P2's multilingual
  condition, P3's translated substitutions) carries `parallel_id`, the row key of the
  original (see the base's format module); tasks/selection.py pools by it. Without
  it a variant is drawn independently of its source (P2's single-language conditions).
"""

import dataclasses
import os

from tasks.formats import rows
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError

VARIANTS_DIRECTORY = "variants"


@dataclasses.dataclass(frozen=True)
class Variant:
  """How a variant was made.

  Attributes:
    name: the suffix of the variant's dataset name, e.g. "translated_google".
    method: "translated" (from the base's English split) or "round_trip"
      (the base's native rows, into English and back).
    engine: who translated, e.g. "Google Translate".
  """

  name: str
  method: str
  engine: str

  def __post_init__(self):
    if self.method not in ("translated", "round_trip"):
      raise UserInputError(f"variant {self.name}: method must be 'translated' or 'round_trip',"
                           f" got {self.method!r}")


def variant_root(data_dir: str, variant: str) -> str:
  """The directory under which a variant keeps its base's layout."""
  return os.path.join(data_dir, VARIANTS_DIRECTORY, variant)


def renamed(example: dict[str, str], base_prefix: str, prefix: str) -> dict[str, str]:
  """`example` with its id's `base_prefix` (the base's "<task>:") replaced by `prefix`."""
  if not example["id"].startswith(base_prefix):
    raise AssertionError(f"reader gave id {example['id']!r}, not under {base_prefix!r}")
  return {**example, "id": prefix + example["id"][len(base_prefix):]}


def make_variant(base, variant: Variant, languages: tuple[str, ...] | None = None):
  """The dataset `<base.name>_<variant.name>`: `base` read from the variant's root.

  Args:
    base: a `tasks.datasets.Dataset` whose `load` reports provenance.
    variant: how the copy was made (tagged in every provenance record).
    languages: the variant's languages; when None, the base's but English (a copy
      translated from English, or round-trip translated via English, has no English).
  """
  if base.load is None:
    raise AssertionError(f"dataset {base.name} has no provenance-reporting load")
  name = f"{base.name}_{variant.name}"

  def path(data_dir: str, language: str, split: str) -> str:
    return base.path(variant_root(data_dir, variant.name), language, split)

  def load(data_dir: str, language: str, split: str,
           policy: rows.ReadPolicy) -> rows.LoadResult:
    root = variant_root(data_dir, variant.name)
    if not paths.isdir(data_dir):
      raise UserInputError(f"data directory {data_dir} does not exist")
    if not paths.isdir(root):
      raise UserInputError(f"dataset {name}: its directory {root} does not exist (a variant"
                           f" keeps the layout of {base.name} there; see tasks/variants.py)")
    result = base.load(root, language, split, policy)
    base_prefix = task_name(base.name, language, split) + ":"
    prefix = task_name(name, language, split) + ":"
    examples = [renamed(example, base_prefix, prefix) for example in result.examples]
    tags = {**result.tags, "variant": variant.name, "variant_of": base.name,
            "method": variant.method, "engine": variant.engine}
    return dataclasses.replace(result, examples=examples, tags=tags)

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    return load(data_dir, language, split, rows.DEFAULT_POLICY).examples

  how = ("machine-translated from English" if variant.method == "translated"
         else "round-trip translated via English")
  return dataclasses.replace(
      base, name=name, path=path, read=read, load=load,
      languages=tuple(languages or [language for language in base.languages
                                    if language != "en"]),
      licence=f"{base.licence}; {how} by {variant.engine}")
