"""Run manifests drawn from real demo files: pools, held-out validation, nesting, source hashes."""

import dataclasses
import json
import shutil

import pytest

from tasks import datasets, selection
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import demo as demo_data
from xlt_jax.studies.designs import Portion, RunPlan, plan_runs
from xlt_jax.studies.paper_designs import PinchDesign

TRAIN_ROWS = 60


def _shuffled_reader(data_dir, language, split):
  """Demo rows in reverse order with new ids: only `parallel_id` ties them to their source."""
  rows = datasets.read_examples("demo_arith", data_dir, language, split)[::-1]
  return [dict(row, id=f"demo_shuffled_{language}_{split}:{index}",
               parallel_id=row["id"].rsplit(":", 1)[-1])
          for index, row in enumerate(rows, start=1)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("selection")
  demo_data.write_demo_dataset(str(root), {"train": TRAIN_ROWS, "validation": 8, "test": 4})
  return root


@pytest.fixture(autouse=True)
def test_datasets(monkeypatch):
  """Two datasets without a validation split (so validation is carved from train)."""
  demo = datasets.get_dataset("demo_arith")
  monkeypatch.setitem(datasets.DATASETS, "demo_nosplit", dataclasses.replace(
      demo, name="demo_nosplit", splits=("train", "test")))
  monkeypatch.setitem(datasets.DATASETS, "demo_shuffled", dataclasses.replace(
      demo, name="demo_shuffled", splits=("train", "test"), read=_shuffled_reader))


def _keys(manifest_entry, data_dir):
  examples = datasets.read_examples(manifest_entry["dataset"], str(data_dir),
                                    manifest_entry["language"], manifest_entry["split"])
  by_id = {example["id"]: selection.parallel_key(example) for example in examples}
  return [by_id[example_id] for example_id in manifest_entry["ids"]]


def _pooled_plan(**overrides):
  values = dict(name="r", mixture="pool_r", validation_mixture="pool_r_validation",
                portions=(Portion("demo_nosplit", "en", 20, "pool", 0),
                          Portion("demo_shuffled", "es", 10, "pool", 20),
                          Portion("demo_nosplit", "fr", 10, "pool", 0)),
                validation_size=8, pools={"pool": ("demo_nosplit", "en")})
  values.update(overrides)
  return RunPlan(**values)


def test_pool_windows_are_disjoint_or_parallel_and_validation_is_held_out(data_dir):
  manifest = selection.select_run(_pooled_plan(), str(data_dir))
  english, spanish, french = (_keys(entry, data_dir) for entry in manifest["train"])
  assert len(set(english)) == 20 and not set(english) & set(spanish)  # disjoint windows
  assert french == english[:10]  # same positions: parallel copies of the same items
  held_out = [_keys(entry, data_dir) for entry in manifest["validation"]]
  assert [entry["count"] for entry in manifest["validation"]] == [8, 8, 8]
  assert held_out[0] == held_out[1] == held_out[2]  # the same held-out items in every language
  assert not set(held_out[0]) & set(english + spanish + french)
  assert manifest["validation"][0]["task"] == "demo_nosplit_en_train_pool_heldout_n8"
  assert manifest["train"][1]["task"] == "demo_shuffled_es_train_pool_o20_n10"
  assert manifest["counts"] == {"demo_nosplit": {"en": 20, "fr": 10}, "demo_shuffled": {"es": 10}}
  assert manifest["pools"]["pool"]["items"] == TRAIN_ROWS
  assert len(manifest["sources"]) == 3 and all(len(h) == 64 for h in manifest["sources"].values())


def test_a_window_past_the_held_out_items_names_task_language_budget_and_availability(data_dir):
  plan = _pooled_plan(portions=(Portion("demo_shuffled", "es", 50, "pool", 10),))
  with pytest.raises(UserInputError, match=r"budget 50 for task demo_shuffled_es_train \(language"
                     r" es\) exceeds the 60 available examples \(52 after holding out 8"):
    selection.select_run(plan, str(data_dir))


def test_independent_draws_nest_and_never_reach_the_held_out_tail(data_dir):
  def plan(count):
    return RunPlan(name="r", mixture="m", validation_mixture="v", validation_size=8,
                   portions=(Portion("demo_nosplit", "es", count),))
  small, large = (selection.select_run(plan(count), str(data_dir)) for count in (10, 52))
  assert large["train"][0]["ids"][:10] == small["train"][0]["ids"]
  assert small["validation"] == large["validation"]
  assert not set(large["validation"][0]["ids"]) & set(large["train"][0]["ids"])
  with pytest.raises(UserInputError, match="budget 53 .* 60 available examples .52 after"):
    selection.select_run(plan(53), str(data_dir))


def test_pinch_sweep_shares_the_english_sample_and_uses_each_item_once(data_dir):
  design = PinchDesign(name="pinch", dataset="demo_nosplit", languages=datasets.DEMO_LANGUAGES,
                       total=48, percentages=(10, 50, 100), six_languages=("en", "es"),
                       addition_orders=(), bilingual_pairs=(("en", "ja"),),
                       extra_monolingual=(), validation_size=8)
  cache = selection.SourceCache(str(data_dir))
  manifests = {plan.name: selection.select_run(plan, str(data_dir), cache)
               for plan in plan_runs(design)}
  for manifest in manifests.values():
    languages = {entry["language"] for entry in manifest["train"]}
    assert {path.rsplit("/", 1)[1] for path in manifest["sources"]} == {
        f"{language}.tsv" for language in languages | {"en"}}  # only the files it depends on
    keys = [key for entry in manifest["train"] for key in _keys(entry, data_dir)]
    assert len(keys) == len(set(keys)) == 48  # each example appears once, in one language
  english = [manifests[f"pinch8_p{p:03d}"]["train"][0]["ids"] for p in (10, 50, 100)]
  assert english[0][:len(english[1])] == english[1] and english[1][:len(english[2])] == english[2]
  assert manifests["bilingual_en_ja"]["train"][0]["ids"] == english[0][:24]


def test_a_translation_missing_from_a_pool_window_is_named(data_dir, monkeypatch):
  demo = datasets.get_dataset("demo_shuffled")
  monkeypatch.setitem(datasets.DATASETS, "demo_unaligned", dataclasses.replace(
      demo, name="demo_unaligned",
      read=lambda *args: [dict(e, parallel_id="x" + e["parallel_id"])
                          for e in _shuffled_reader(*args)]))
  plan = _pooled_plan(portions=(Portion("demo_unaligned", "es", 5, "pool"),))
  with pytest.raises(UserInputError, match=r"pool pool: 5 of the 5 items of demo_nosplit en at"
                                           r" positions 0..4 have no example in demo_unaligned es"):
    selection.select_run(plan, str(data_dir))


@pytest.mark.parametrize("portion, message", [
    (Portion("demo_nosplit", "xx", 1), "unknown language code 'xx'"),
    (Portion("demo_nosplit", "de", 1), "unknown demo_nosplit language code 'de'"),
    (Portion("xlsum_v9", "es", 1), "unknown dataset 'xlsum_v9'"),
])
def test_unknown_language_or_dataset_fails_before_reading(tmp_path, portion, message):
  plan = RunPlan(name="r", mixture="m", validation_mixture="v", portions=(portion,))
  with pytest.raises(UserInputError, match=message):
    selection.select_run(plan, str(tmp_path / "nowhere"))


def test_manifest_check_names_the_changed_source(data_dir, tmp_path):
  copy = tmp_path / "data"
  shutil.copytree(data_dir, copy)
  manifest = selection.select_run(_pooled_plan(), str(copy))
  path = tmp_path / "manifest.json"
  path.write_text(json.dumps(manifest))
  assert selection.check_manifest_file(str(path)) == manifest
  changed = copy / "demo_arith" / "train" / "fr.tsv"
  changed.write_text(changed.read_text(encoding="utf-8") + "Q?\t1\n", encoding="utf-8")
  with pytest.raises(UserInputError, match=f"manifest of run pool_r no longer matches its source"
                                           f" {changed}"):
    selection.check_manifest_file(str(path))
  changed.unlink()
  with pytest.raises(UserInputError, match=f"source {changed} of run pool_r no longer exists"):
    selection.check_manifest(manifest)


def test_a_pooled_dataset_with_a_validation_split_validates_on_it(data_dir):
  plan = _pooled_plan(portions=(Portion("demo_arith", "es", 10, "pool", 20),))
  manifest = selection.select_run(plan, str(data_dir))
  assert _keys(manifest["train"][0], data_dir) == _keys(
      selection.select_run(_pooled_plan(), str(data_dir))["train"][1], data_dir)
  (validation,) = manifest["validation"]
  assert validation["split"] == "validation" and validation["task"] == "demo_arith_es_validation_n8"
