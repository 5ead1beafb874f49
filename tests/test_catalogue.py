"""The catalogue: stable names for every study's runs, registration on real demo files."""

import collections
import shutil

import pytest
import seqio

from tasks import catalogue, datasets, selection
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.models.tokenizer import load_vocabulary, train_sentencepiece
from xlt_jax.runner import gin_setup


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("catalogue")
  demo_data.write_demo_dataset(str(root), {"train": 64, "validation": 8, "test": 8},
                               languages=("en", "es", "ja", "ar", "pt"))
  texts = [example[field] for language in ("en", "es", "ja")
           for example in datasets.read_examples("demo_arith", str(root), language, "train")
           for field in ("inputs", "targets")]
  train_sentencepiece(texts, str(root / "spm.model"), 512)
  return root


def test_every_study_has_its_runs_under_unique_names():
  names = catalogue.mixture_names()
  assert len(names) == len(set(names)) == 223
  studies = collections.Counter(catalogue.design_for(name).name.split("_")[0] for name in names)
  assert studies == {"demo": 3, "smoke": 3, "p0": 88, "p1": 58, "p2": 16, "p3": 11, "p4": 44}
  # Names are an interface (gin files, run directories, reports): these must not change.
  for name in ["p0_single_xlsum_budget05000", "p0_multi_budget07000",
               "p0_latin_mcot_math_budget00100", "p0_nonlatin_sharegpt_budget00000",
               "p1_mono_sw", "p1_mono_sr", "p1_pinch12_p001", "p1_pinch6_p100",
               "p1_languages_ar_en_fi_it_ru_sw", "p1_bilingual_en_es", "p2_native_es",
               "p2_rtt_cohere_zh", "p2_multi_translated_google", "p3_mono",
               "p3_multi6_translated", "p4_math_n01_en", "p4_api_n09_without_bn",
               "p4_api_n10_all"]:
    assert name in names
  assert catalogue.plan_for("p0_single_xlsum_budget00100").total == 10_400  # P0 §4 example


def test_unknown_mixture_lists_near_matches():
  with pytest.raises(UserInputError, match=r"unknown mixture 'p1_pinch12_p01'; did you mean"
                                           r" p1_pinch12_p010"):
    catalogue.plan_for("p1_pinch12_p01")
  with pytest.raises(UserInputError, match="unknown mixture 'zzz'; list them with"):
    catalogue.design_for("zzz")


@pytest.mark.parametrize("gin_file, study", [("gin/demo_cpu.gin", "demo"),
                                             ("gin/smoke_cpu.gin", "smoke")])
def test_demo_studies_are_the_ones_the_gin_files_run(gin_file, study):
  experiment, _ = gin_setup.build_experiment([gin_file], ["MODEL_DIR = '/tmp/x'"])
  assert catalogue.design_for(f"{study}_budget00000") == experiment.study


def test_registered_mixtures_share_english_nest_and_hold_out_validation(demo_dir):
  vocabulary = load_vocabulary(str(demo_dir / "spm.model"))
  small = catalogue.register_mixture("smoke_budget00016", str(demo_dir), vocabulary)
  large = catalogue.register_mixture("smoke_budget00032", str(demo_dir), vocabulary)
  members = {task.name for task in seqio.get_mixture_or_task("smoke_budget00032").tasks}
  assert members == {"demo_arith_en_train_n48", "demo_arith_es_train_n32",
                     "demo_arith_ja_train_n32"}
  assert large.manifest["counts"] == {"demo_arith": {"en": 48, "es": 32, "ja": 32}}
  small_train, large_train = small.manifest["train"], large.manifest["train"]
  assert small_train[0]["ids"] == large_train[0]["ids"]  # English shared across the sweep
  assert small_train[1]["ids"] == large_train[1]["ids"][:16]  # nested budgets
  for entry in large.manifest["validation"]:
    assert entry["split"] == "validation" and entry["count"] == 8
    trained = {e["inputs"] for e in datasets.read_examples(
        "demo_arith", str(demo_dir), entry["language"], "train")}
    held_out = [e["inputs"] for e in datasets.read_examples(
        "demo_arith", str(demo_dir), entry["language"], "validation") if e["id"] in entry["ids"]]
    assert len(held_out) == 8 and not trained & set(held_out)
  selection.check_manifest(large.manifest)  # the sources are unchanged


def test_the_same_task_name_cannot_hold_other_data(demo_dir, tmp_path):
  vocabulary = load_vocabulary(str(demo_dir / "spm.model"))
  catalogue.register_mixture("smoke_budget00016", str(demo_dir), vocabulary)
  copy = tmp_path / "copy"
  shutil.copytree(demo_dir, copy)
  with pytest.raises(UserInputError, match="task demo_arith_en_train_n48 is already registered"
                                           " with a different definition"):
    catalogue.register_mixture("smoke_budget00016", str(copy), vocabulary)


def test_a_paper_mixture_without_its_data_names_the_dataset(demo_dir):
  # "unknown dataset" until its reader exists, then its missing file: both name it.
  with pytest.raises(UserInputError, match="lima_oasst"):
    catalogue.select_mixture("p1_mono_es", str(demo_dir))
