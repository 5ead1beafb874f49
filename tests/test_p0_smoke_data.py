"""The generated P0 stand-ins (xlt_jax/data/p0_smoke.py) read through each dataset's own
reader, in the layout and format of its release."""

import pytest

from tasks import catalogue, datasets
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import p0_smoke
from xlt_jax.evaluation import answers

SIZES = {"train": 6, "validation": 2, "test": 3}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("p0_smoke")
  p0_smoke.write_p0_smoke_datasets(str(directory), SIZES)
  return directory


@pytest.mark.parametrize("language", p0_smoke.LANGUAGES)
def test_every_p0_dataset_reads_back_through_its_reader(data_dir, language):
  for dataset in ("xlsum", "sharegpt"):
    for split, size in SIZES.items():
      examples = datasets.read_examples(dataset, str(data_dir), language, split)
      assert len(examples) == size, (dataset, split)
  if language in datasets.get_dataset("mcot_math").languages:
    train = datasets.read_examples("mcot_math", str(data_dir), language, "train")
    assert len(train) == SIZES["train"] and all(example["answer"] for example in train)
  tests = {name: datasets.read_examples(name, str(data_dir), language, "test")
           for name in ("mgsm_p0", "dolly_machine_translated")}
  assert {name: len(found) for name, found in tests.items()} == {
      "mgsm_p0": SIZES["test"], "dolly_machine_translated": SIZES["test"]}
  [first, *_] = tests["mgsm_p0"]
  assert first["inputs"].count("\n\n") == p0_smoke.EXEMPLARS  # 8-shot prompt, then the question
  assert answers.answers_match(answers.extract_number(first["targets"]), first["answer"])
  summary = datasets.read_examples("xlsum", str(data_dir), language, "test")[0]
  assert summary["targets"] in summary["inputs"]  # the summary is the article's first sentence


def test_the_p0_multi_design_finds_every_dataset_it_needs():
  design = next(d for d in catalogue.designs() if d.name == "p0_multi")
  needed = set(design.datasets) | {e.dataset for e in design.evaluation_sets()}
  assert needed <= set(p0_smoke.DATASETS)


def test_negative_sizes_are_refused(tmp_path):
  with pytest.raises(UserInputError, match="sizes must be >= 0"):
    p0_smoke.write_p0_smoke_datasets(str(tmp_path), {"train": -1, "validation": 1, "test": 1})
