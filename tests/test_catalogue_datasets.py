"""The catalogue's dataset names exist in the registry, and a variant mixture runs end to end."""

import pyarrow
import pyarrow.parquet
import pytest
import seqio

from tasks import catalogue, datasets, selection
from tasks.formats import aya_dataset
from xlt_jax import languages as language_codes
from xlt_jax.study import MultiTaskDesign, StudyDesign, plan_runs
from xlt_jax.tokenizer import load_vocabulary, train_sentencepiece


def _needs(design) -> set[tuple[str, str, str]]:
  """(dataset, language, split) of every task a design trains, validates or tests on."""
  needed = set()
  for plan in plan_runs(design):
    for portion in plan.portions:
      needed.add((portion.dataset, portion.language, "train"))
      splits = datasets.get_dataset(portion.dataset).splits if (
          portion.dataset in datasets.DATASETS) else ()
      if plan.validation_split in splits:  # else validation is held out of train
        needed.add((portion.dataset, portion.language, plan.validation_split))
    needed |= {(dataset, language, "train") for dataset, language in plan.pools.values()}
  if isinstance(design, StudyDesign):
    evaluation = design.evaluation_dataset or design.dataset
    needed |= {(evaluation, language, "test") for language in design.evaluation_languages}
  if isinstance(design, MultiTaskDesign):
    languages = (design.english, *design.seen_languages, *design.unseen_languages)
    for dataset in design.datasets:
      evaluation = catalogue.P0_EVALUATION.get(dataset) or dataset
      needed |= {(evaluation, language, "test") for language in languages}
  return needed


@pytest.mark.parametrize("design", catalogue.designs(), ids=lambda design: design.name)
def test_every_catalogued_design_finds_its_datasets_languages_and_splits(design):
  missing = []
  for dataset, language, split in sorted(_needs(design)):
    language_codes.check_language(language)
    spec = datasets.DATASETS.get(dataset)
    if spec is None:
      missing.append(f"{dataset} (not registered)")
    elif language not in spec.languages or split not in spec.splits:
      missing.append(f"{dataset} {language} {split}")
  assert not missing, f"study {design.name} needs what the registry lacks: {missing}"


def test_the_variants_the_catalogue_uses_are_registered_with_their_provenance():
  for name in ("aya_dataset_translated_google", "aya_dataset_translated_cohere",
               "aya_dataset_rtt_google", "aya_dataset_rtt_cohere", "guanaco_translated"):
    spec = datasets.get_dataset(name)
    assert spec.path("/data", "es", "train").startswith("/data/variants/")
  assert datasets.get_dataset("aya_dataset_rtt_cohere").path("/d", "ru", "train") == (
      "/d/variants/rtt_cohere/aya_dataset/data/train-00000-of-00001.parquet")


P2_CODES = {"en": "eng", "es": "spa", "ru": "rus", "zh": "zho", "ar": "arb", "de": "deu",
            "fi": "fin", "ga": "gle", "hi": "hin"}
WORDS = ("sea", "river", "bread", "lamp", "garden", "winter", "violin", "market", "cloud",
         "stone", "letter", "bridge")


def _write_aya(path, rows):
  """rows: (language, inputs, targets, parallel_id or None), in the Aya release's schema."""
  path.parent.mkdir(parents=True, exist_ok=True)
  columns = {
      "inputs": [row[1] for row in rows], "targets": [row[2] for row in rows],
      "language": [row[0] for row in rows],
      "language_code": [P2_CODES[row[0]] for row in rows],
      "annotation_type": ["original-annotations"] * len(rows),
      "user_id": [f"user{index % 7}" for index in range(len(rows))]}
  if any(row[3] is not None for row in rows):
    columns["parallel_id"] = pyarrow.array([row[3] for row in rows], pyarrow.int64())
  pyarrow.parquet.write_table(pyarrow.table(columns), path)


@pytest.fixture(scope="module")
def p2_dir(tmp_path_factory):
  """Aya English + native rows, and Google translations of every English row (row keys)."""
  root = tmp_path_factory.mktemp("p2")
  design = catalogue.design_for("p2_multi_translated_google")
  languages, size = design.multilingual_languages, design.multilingual_size
  english_count = size * len(languages) + design.validation_size
  english = [("en", f"Tell me about the {WORDS[r % 12]} number {r}.", f"The {WORDS[r % 5]} {r}.",
              None) for r in range(english_count)]
  native = [(language, f"{language} native {WORDS[r % 12]} {r}?", f"{language} answer {r}", None)
            for language in languages for r in range(size)]
  data = root / "aya_dataset" / "data"
  _write_aya(data / aya_dataset.hub_file("train").split("/")[-1], english + native)
  held_out = [(language, f"{language} test {r}?", f"{language} reference {r}", None)
              for language in languages for r in range(design.validation_size)]
  _write_aya(data / aya_dataset.hub_file("test").split("/")[-1], held_out)
  variant = root / "variants" / "translated_google" / "aya_dataset" / "data"
  translated = [(language, f"[{language}] {inputs}", f"[{language}] {targets}", row)
                for language in languages
                for row, (_, inputs, targets, _) in enumerate(english)]
  _write_aya(variant / "train-00000-of-00001.parquet", translated)
  _write_aya(variant / "test-00000-of-00001.parquet", held_out)
  texts = [text for row in english[:400] + translated[:400] for text in row[1:3]]
  train_sentencepiece(texts, str(root / "spm.model"), 320)
  return root


def test_a_translated_p2_mixture_registers_end_to_end(p2_dir):
  vocabulary = load_vocabulary(str(p2_dir / "spm.model"))
  translated = catalogue.register_mixture("p2_multi_translated_google", str(p2_dir), vocabulary)
  native = catalogue.register_mixture("p2_multi_native", str(p2_dir), vocabulary)
  variant_file = str(p2_dir / "variants" / "translated_google" / "aya_dataset" / "data"
                     / "train-00000-of-00001.parquet")
  english_file = str(p2_dir / "aya_dataset" / "data" / "train-00000-of-00001.parquet")
  manifest = translated.manifest
  assert {entry["source"] for entry in manifest["train"]} == {variant_file}
  assert manifest["sources"][variant_file] == selection.sha256_file(variant_file)
  assert english_file in manifest["sources"]  # the pool's English originals
  translated_ids = [i for entry in manifest["train"] for i in entry["ids"]]
  native_ids = [i for entry in native.manifest["train"] for i in entry["ids"]]
  assert len(translated_ids) == len(native_ids) == 8 * 241
  assert all(i.startswith("aya_dataset_translated_google_") for i in translated_ids)
  assert not set(translated_ids) & set(native_ids)
  # Each language translates its own English sample: the pool's consecutive windows.
  english = {e["id"].rsplit(":", 1)[1]: e["inputs"] for e in datasets.read_examples(
      "aya_dataset", str(p2_dir), "en", "train")}
  sources_used = []
  for entry in manifest["train"]:
    task = seqio.get_mixture_or_task(entry["task"])
    rows = list(task.get_dataset(sequence_length=None, split="train", shuffle=False)
                .as_numpy_iterator())
    assert [row["id"].decode() for row in rows] == entry["ids"]
    by_id = {e["id"]: e for e in datasets.read_examples(
        entry["dataset"], str(p2_dir), entry["language"], "train")}
    for row in rows:
      example = by_id[row["id"].decode()]
      assert row["inputs_pretokenized"].decode() == (
          f"[{entry['language']}] {english[example['parallel_id']]}")
      sources_used.append(example["parallel_id"])
  assert len(set(sources_used)) == len(sources_used) == 8 * 241
  assert set(seqio.get_mixture_or_task("p2_multi_translated_google").tasks) == {
      seqio.get_mixture_or_task(entry["task"]) for entry in manifest["train"]}
  record = datasets.provenance("aya_dataset_translated_google", str(p2_dir), "es", "train")
  assert record["sources"][0]["path"] == variant_file
  assert record["tags"] == {"variant": "translated_google", "variant_of": "aya_dataset",
                            "method": "translated", "engine": "Google Translate"}
  selection.check_manifest(manifest)
