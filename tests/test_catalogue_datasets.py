"""The catalogue's dataset names exist in the registry, and a variant mixture runs end to end."""

import json

import pyarrow
import pyarrow.parquet
import pytest
import seqio

from tasks import catalogue, datasets, selection
from tasks.formats import aya_dataset
from tasks.formats import rows as format_rows
from xlt_jax.core import languages as language_codes
from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.models.tokenizer import load_vocabulary, train_sentencepiece
from xlt_jax.studies.designs import MultiTaskDesign, StudyDesign, plan_runs
from xlt_jax.studies.paper_designs import PinchDesign, PolyglotDesign


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
  # As in Aya, German has exactly the multilingual size (241); the others have more.
  native = [(language, f"{language} native {WORDS[r % 12]} {r}?", f"{language} answer {r}", None)
            for language in languages
            for r in range(size if language == "de" else size + design.validation_size)]
  _write_aya(root / "aya_dataset" / aya_dataset.hub_file("train"), english + native)
  held_out = [(language, f"{language} test {r}?", f"{language} reference {r}", None)
              for language in languages for r in range(design.validation_size)]
  _write_aya(root / "aya_dataset" / aya_dataset.hub_file("test"), held_out)
  variant = root / "variants" / "translated_google" / "aya_dataset" / "data"
  translated = [(language, f"[{language}] {inputs}", f"[{language}] {targets}", row)
                for language in languages
                for row, (_, inputs, targets, _) in enumerate(english)]
  _write_aya(variant / "train-00000-of-00001.parquet", translated)
  _write_aya(variant / "test-00000-of-00001.parquet", held_out)
  texts = [text for row in english[:400] + translated[:400] for text in row[1:3]]
  train_sentencepiece(texts, str(root / "spm.model"), 320)
  return root


def design_languages() -> tuple[str, ...]:
  return catalogue.design_for("p2_multi_native").multilingual_languages


def test_a_translated_p2_mixture_registers_end_to_end(p2_dir):
  vocabulary = load_vocabulary(str(p2_dir / "spm.model"))
  translated = catalogue.register_mixture("p2_multi_translated_google", str(p2_dir), vocabulary)
  native = catalogue.register_mixture("p2_multi_native", str(p2_dir), vocabulary)
  variant_file = str(p2_dir / "variants" / "translated_google" / "aya_dataset" / "data"
                     / "train-00000-of-00001.parquet")
  english_file = str(p2_dir / "aya_dataset" / "data" / "train-00000-of-00001.parquet")
  manifest = translated.manifest
  assert {entry["source"] for entry in manifest["train"]} == {variant_file}
  assert manifest["sources"][variant_file] == format_rows.sha256_file(variant_file)
  assert english_file in manifest["sources"]  # the pool's English originals
  translated_ids = [i for entry in manifest["train"] for i in entry["ids"]]
  native_ids = [i for entry in native.manifest["train"] for i in entry["ids"]]
  assert len(translated_ids) == len(native_ids) == 8 * 241
  assert all(i.startswith("aya_dataset_translated_google_") for i in translated_ids)
  assert not set(translated_ids) & set(native_ids)
  # German's 241 examples all train (validation_from_rest): the others hold out 50 each.
  held_out = {entry["language"]: len(entry["ids"]) for entry in native.manifest["validation"]}
  assert held_out == {language: 50 for language in design_languages() if language != "de"}
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


def _write_jsonl(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                  encoding="utf-8")


@pytest.fixture
def p1_dir(tmp_path):
  """LIMA + OASST1 in their official formats, and a Spanish translation of every item."""
  lima = [{"conversations": [f"LIMA question {n}?", f"LIMA answer {n}."], "source": "wikihow"}
          for n in range(3)]
  _write_jsonl(tmp_path / "lima" / "train.jsonl", lima)
  messages = []
  for n in range(3):
    messages.append({"message_id": f"q-{n}", "parent_id": None, "text": f"OASST question {n}?",
                     "role": "prompter", "lang": "en", "rank": None})
    messages += [{"message_id": f"a-{n}-{rank}", "parent_id": f"q-{n}", "role": "assistant",
                  "text": f"OASST answer {n} ranked {rank}.", "lang": "en", "rank": rank}
                 for rank in (1, 0)]
  messages.append({"message_id": "q-es", "parent_id": None, "text": "¿Pregunta nativa?",
                   "role": "prompter", "lang": "es", "rank": None})
  (tmp_path / "oasst1").mkdir()
  pyarrow.parquet.write_table(pyarrow.Table.from_pylist(messages),
                              tmp_path / "oasst1" / "train.parquet")
  keys = [f"lima.{n + 1}" for n in range(3)] + [f"oasst.q-{n}" for n in range(3)]
  _write_jsonl(tmp_path / "lima_oasst" / "es" / "train.jsonl",
               [{"parallel_id": key, "conversations": [f"¿{key}?", f"Respuesta {key}."]}
                for key in reversed(keys)])  # any order: rows are matched by key
  return tmp_path


def test_lima_oasst_reads_both_english_sources_and_keyed_translations(p1_dir):
  english = datasets.read_examples("lima_oasst", str(p1_dir), "en", "train")
  assert [(e["id"], e["parallel_id"], e["targets"]) for e in english[2:4]] == [
      ("lima_oasst_en_train:lima.3", "lima.3", "LIMA answer 2."),
      ("lima_oasst_en_train:oasst.q-0", "oasst.q-0", "OASST answer 0 ranked 0.")]
  assert len(english) == 6
  spanish = {e["parallel_id"]: e for e in datasets.read_examples(
      "lima_oasst", str(p1_dir), "es", "train")}
  assert spanish["oasst.q-1"]["inputs"] == "¿oasst.q-1?"
  assert spanish["oasst.q-1"]["id"] == "lima_oasst_es_train:oasst.q-1"
  record = datasets.provenance("lima_oasst", str(p1_dir), "en", "train")
  assert [source["path"] for source in record["sources"]] == [
      str(p1_dir / "lima" / "train.jsonl"), str(p1_dir / "oasst1" / "train.parquet")]
  assert (record["rows_read"], record["rows_kept"]) == (6, 6)
  # A pinch run draws English and Spanish from one pool at disjoint positions.
  design = PinchDesign(name="tiny", dataset="lima_oasst", languages=("en", "es"), total=4,
                       percentages=(50,), six_languages=("en", "es"),
                       addition_orders=(("en", "es"),), bilingual_pairs=(("en", "es"),),
                       extra_monolingual=(), validation_size=1)
  plan = next(plan for plan in design.runs() if plan.name == "bilingual_en_es")
  manifest = selection.select_run(plan, str(p1_dir))
  keys = {entry["language"]: [i.rsplit(":", 1)[1] for i in entry["ids"]]
          for entry in manifest["train"]}
  assert len(keys["en"]) == len(keys["es"]) == 2 and not set(keys["en"]) & set(keys["es"])
  assert set(manifest["sources"]) == {str(p1_dir / "lima" / "train.jsonl"),
                                      str(p1_dir / "oasst1" / "train.parquet"),
                                      str(p1_dir / "lima_oasst" / "es" / "train.jsonl")}


def test_lima_oasst_translation_without_its_key_is_malformed(p1_dir):
  path = p1_dir / "lima_oasst" / "es" / "train.jsonl"
  _write_jsonl(path, [{"conversations": ["¿Sin clave?", "Sí."]}])
  with pytest.raises(DataFormatError, match=r"train.jsonl:1: no 'parallel_id'"):
    datasets.read_examples("lima_oasst", str(p1_dir), "es", "train")


ENGLISH_PROMPTS = (
    "How can I improve my sleep schedule when I work night shifts at the hospital?",
    "What is the best way to learn the piano as an adult with little free time?",
    "Could you explain why the sky looks blue during the day and red at sunset?",
    "Which vegetables should I plant in the spring if my garden gets little sunlight?",
    "Why do cats like to sleep in cardboard boxes instead of their expensive beds?",
)
SPANISH_PROMPTS = (
    "¿Cómo puedo mejorar mi horario de sueño cuando trabajo turnos de noche en el hospital?",
    "¿Cuál es la mejor manera de aprender piano siendo adulto y con poco tiempo libre?",
    "¿Podrías explicar por qué el cielo se ve azul durante el día y rojo al atardecer?",
    "¿Qué verduras debería plantar en primavera si mi jardín recibe poca luz del sol?",
    "¿Por qué a los gatos les gusta dormir en cajas de cartón en lugar de sus camas caras?",
)


def test_p3_translated_substitutes_the_translations_of_the_english_items_it_removes(tmp_path):
  """guanaco_translated: line keys of the official file pool translations with originals."""
  _write_jsonl(tmp_path / "guanaco" / "openassistant_best_replies_train.jsonl",
               [{"text": f"### Human: {prompt}### Assistant: Here is my answer to that."}
                for prompt in ENGLISH_PROMPTS])
  variant = tmp_path / "variants" / "translated" / "guanaco"
  _write_jsonl(variant / "openassistant_best_replies_train.jsonl",
               [{"text": f"### Human: {prompt}### Assistant: Esta es mi respuesta a eso.",
                 "lang": "es", "parallel_id": line}
                for line, prompt in enumerate(SPANISH_PROMPTS, start=1)])
  design = PolyglotDesign(name="tiny", dataset="guanaco", languages=("es",), total=4,
                          per_language=1, validation_size=1)
  plan = next(plan for plan in design.runs() if plan.name == "multi2_translated")
  manifest = selection.select_run(plan, str(tmp_path))
  english, spanish = manifest["train"]
  assert spanish["task"] == "guanaco_translated_es_train_tiny_o3_n1"
  assert spanish["ids"][0].startswith("guanaco_translated_es_train:")
  pool_keys = {i.rsplit(":", 1)[1] for i in english["ids"]}
  translated = datasets.read_examples("guanaco_translated", str(tmp_path), "es", "train")
  by_id = {e["id"]: e for e in translated}
  translated_key = by_id[spanish["ids"][0]]["parallel_id"]
  # The Spanish example translates the English item at pool position 3, not in training.
  assert translated_key not in pool_keys and len(pool_keys) == 3
  line = int(translated_key)
  assert by_id[spanish["ids"][0]]["inputs"] == SPANISH_PROMPTS[line - 1]
  assert str(variant / "openassistant_best_replies_train.jsonl") in manifest["sources"]


def test_a_variant_without_its_directory_names_the_dataset_and_the_place(tmp_path):
  with pytest.raises(UserInputError, match=r"dataset aya_dataset_rtt_google: its directory"
                                           r" \S+/variants/rtt_google does not exist"):
    datasets.read_examples("aya_dataset_rtt_google", str(tmp_path), "ru", "train")


def test_mgsm_p0_reads_each_language_from_the_dataset_that_has_it(tmp_path, test_data):
  """P0's MGSM: human MGSM for en, P0's own translation for pt (stand-in: the English file)."""
  (tmp_path / "mgsm").mkdir()
  (tmp_path / "mgsm_translated").mkdir()
  exemplars = json.loads((test_data / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
  (tmp_path / "mgsm" / "exemplars.json").write_text(json.dumps(exemplars), encoding="utf-8")
  (tmp_path / "mgsm_translated" / "exemplars.json").write_text(json.dumps(
      {"MGSM_EXEMPLARS": {"pt": exemplars["MGSM_EXEMPLARS"]["en"]}}), encoding="utf-8")
  english = (test_data / "mgsm" / "mgsm_en.tsv").read_text(encoding="utf-8")
  (tmp_path / "mgsm" / "mgsm_en.tsv").write_text(english, encoding="utf-8")
  (tmp_path / "mgsm_translated" / "mgsm_pt.tsv").write_text(english, encoding="utf-8")
  for language, owner in (("en", "mgsm"), ("pt", "mgsm_translated")):
    examples = datasets.read_examples("mgsm_p0", str(tmp_path), language, "test")
    assert len(examples) == 250 and examples[0]["id"] == f"{owner}_{language}_test:1"
    record = datasets.provenance("mgsm_p0", str(tmp_path), language, "test")
    assert record["tags"]["read_from"] == owner
    assert record["sources"][0]["path"] == str(tmp_path / owner / f"mgsm_{language}.tsv")
  with pytest.raises(UserInputError, match="dataset mgsm_p0 has no language 'it'"):
    datasets.read_examples("mgsm_p0", str(tmp_path), "it", "test")


def test_a_parallel_id_that_is_not_a_key_is_a_malformed_row(tmp_path):
  _write_jsonl(tmp_path / "variants" / "translated" / "guanaco"
               / "openassistant_best_replies_train.jsonl",
               [{"text": f"### Human: {SPANISH_PROMPTS[0]}### Assistant: Sí.", "lang": "es",
                 "parallel_id": True}])
  with pytest.raises(DataFormatError, match=r"train.jsonl:1: 'parallel_id' must be a non-empty"):
    datasets.read_examples("guanaco_translated", str(tmp_path), "es", "train")
