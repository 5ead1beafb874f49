"""The generated P2 stand-ins (xlt_jax/data/p2_smoke.py) read through each dataset's own
reader, in the layout of its release; P2's design names TyDi QA's validation split and
the perplexity of its held-out Aya data, and the smoke gin needs no DATA_DIR."""

import pyarrow.parquet
import pytest

from tasks import catalogue, datasets, mixtures
from tasks.formats import ceval
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import p0_smoke, p2_smoke, paper_smoke
from xlt_jax.evaluation import task_metrics
from xlt_jax.runner import gin_setup
from xlt_jax.studies.paper_designs import ConditionDesign

SIZES = {"train": 6, "validation": 2, "test": 3}
OFFICIAL = "aya_dataset/data/{}-00000-of-00001.parquet"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("p2_smoke")
  p2_smoke.write_p2_smoke_datasets(str(directory), SIZES)
  return str(directory)


@pytest.mark.parametrize("language", p2_smoke.AYA_LANGUAGES)
def test_aya_and_its_variants_read_back(data_dir, language):
  for split, size in (("train", SIZES["train"]), ("test", SIZES["validation"] + SIZES["test"])):
    native = datasets.read_examples("aya_dataset", data_dir, language, split)
    assert len(native) == size and all(example["targets"] for example in native)
    if language == "en":
      continue
    english_rows = [number for number, code in enumerate(pyarrow.parquet.read_table(
        f"{data_dir}/{OFFICIAL.format(split)}").column("language_code").to_pylist())
                    if code == "eng"]
    for engine in ("google", "cohere"):
      translated = datasets.read_examples(f"aya_dataset_translated_{engine}", data_dir,
                                          language, split)
      # One translation of every English row, each naming that row of the official file.
      assert [int(example["parallel_id"]) for example in translated] == english_rows
      assert translated[0]["id"].startswith(f"aya_dataset_translated_{engine}_{language}_")
      round_trip = datasets.read_examples(f"aya_dataset_rtt_{engine}", data_dir, language, split)
      assert [example["inputs"] for example in round_trip] == [e["inputs"] for e in native]
      assert all("parallel_id" not in example for example in round_trip)


@pytest.mark.parametrize("dataset, languages, size", [
    ("okapi_mmlu", p2_smoke.OKAPI_LANGUAGES, SIZES["test"]),
    ("mmmlu", p2_smoke.MMMLU_LANGUAGES, SIZES["test"] + p2_smoke.SHOTS),
    ("cmmlu", ("zh",), SIZES["test"])])
def test_mmlu_family_stand_ins_are_five_shot_and_answerable(data_dir, dataset, languages, size):
  for language in languages:
    examples = datasets.read_examples(dataset, data_dir, language, "test")
    assert len(examples) == size, language
    for example in examples:
      cue = "答案：" if dataset == "cmmlu" else "Answer:"
      assert example["inputs"].count(cue) == 6  # five answered exemplars, then the question
      # The gold letter's option is the problem's answer (its options are 4 numbers).
      question = example["inputs"].rsplit("\n\n", 1)[-1]
      option = question.split(f"\n{example['answer']}. ", 1)[1].split("\n", 1)[0]
      assert option.isdigit()
    assert {example["answer"] for example in examples} >= {"A", "B", "C"}


def test_ceval_stand_ins_are_the_release_layout_and_five_shot_from_dev(data_dir):
  """Every subject's dev (five exemplars) and val parquet with the release's columns; the
  val rows, dealt round the subjects, read back 5-shot with CMMLU's cue and answerable."""
  for subject in ceval.CEVAL_SUBJECTS:
    for split, rows in (("dev", p2_smoke.SHOTS), ("val", None)):
      table = pyarrow.parquet.read_table(ceval.subject_path(data_dir, subject, split))
      assert table.column_names == [*ceval.COLUMNS, "explanation"]
      assert rows is None or table.num_rows == rows
  examples = datasets.read_examples("ceval", data_dir, "zh", "validation")
  assert len(examples) == SIZES["test"]
  assert len({example["id"].rsplit(":", 1)[1].split("/")[0] for example in examples}) == 3
  for example in examples:
    assert example["inputs"].count("答案：") == 6
    question = example["inputs"].rsplit("\n\n", 1)[-1]
    assert question.split(f"\n{example['answer']}. ", 1)[1].split("\n", 1)[0].isdigit()
  with pytest.raises(UserInputError, match="no test split to evaluate ceval"):
    mixtures.check_evaluation_sets(ConditionDesign(
        name="p2", dataset="aya_dataset", evaluations=(("ceval", ("zh",)),)))


def test_cmmlu_has_every_subject_and_the_test_rows_go_round_them(data_dir):
  examples = datasets.read_examples("cmmlu", data_dir, "zh", "test")
  subjects = [example["id"].rsplit(":", 1)[1].split("/")[0] for example in examples]
  assert len(set(subjects)) == SIZES["test"]


def test_oasst_questions_and_tydiqa_read_back(data_dir):
  ids = set()
  for language in p2_smoke.OASST_LANGUAGES:
    examples = datasets.read_examples("oasst_human_translated", data_dir, language, "test")
    assert len(examples) == SIZES["test"]
    ids.add(tuple(example["id"].rsplit(":", 1)[1] for example in examples))
  assert len(ids) == 1  # the same question ids in every language, as in the release
  for language in p2_smoke.TYDIQA_LANGUAGES:
    examples = datasets.read_examples("tydiqa", data_dir, language, "validation")
    assert len(examples) == SIZES["test"]
    for example in examples:
      assert example["inputs"].count("\n\n") == 2  # instruction, the 1-shot exemplar, the item
      passage = example["inputs"].rsplit("\n\n", 1)[1]
      assert example["answer"] in passage
      _, scores = task_metrics.get("squad_exact_match").score(task_metrics.Item(
          language, example["inputs"], f"about {example['answer']} of them", example["answer"]))
      assert (scores["exact_match"], scores["include"]) == (0.0, 1.0)


def test_negative_sizes_are_refused(tmp_path):
  with pytest.raises(UserInputError, match="sizes must be >= 0"):
    p2_smoke.write_p2_smoke_datasets(str(tmp_path), {"train": 1, "validation": -1, "test": 1})


def test_p2_evaluates_tydiqa_validation_and_aya_perplexity():
  design = next(design for design in catalogue.designs() if design.name == "p2")
  mixtures.check_evaluation_sets(design)
  sets = {evaluation.task: evaluation for evaluation in design.evaluation_sets()}
  assert (sets["tydiqa"].split, sets["tydiqa"].languages) == ("validation", ("ru",))
  assert mixtures.evaluation_metric(sets["tydiqa"]) == "squad_exact_match"
  assert (sets["aya_dataset"].split, mixtures.evaluation_metric(sets["aya_dataset"])) == (
      "test", "perplexity")
  # Aya's test split has zh but no es / ru (the evaluation suite's aya_human_annotated), and
  # no validation split: validation is held out of each run's train portion.
  assert sets["aya_dataset"].languages == ("zh",)
  assert design.runs()[0].validation_split not in datasets.get_dataset("aya_dataset").splits
  assert mixtures.evaluation_metric(sets["xquad"]) == "squad_exact_match"
  with pytest.raises(UserInputError, match="no validation split to evaluate xquad"):
    mixtures.check_evaluation_sets(ConditionDesign(
        name="p2", dataset="aya_dataset", evaluations=(("xquad", ("es",), "validation"),)))
  with pytest.raises(UserInputError, match=r"\(dataset, languages\[, split\[, metric\]\]\)"):
    ConditionDesign(name="p2", dataset="aya_dataset",
                    evaluations=(("xquad",),)).evaluation_sets()


def test_the_p2_smoke_gin_needs_only_generated_data():
  experiment, _ = gin_setup.build_experiment(["gin/smoke/p2.gin"], ["MODEL_DIR = '/tmp/x'"])
  study = experiment.study
  assert [plan.name for plan in study.runs()] == ["native_es", "translated_google_es",
                                                  "rtt_google_zh"]
  mixtures.check_evaluation_sets(study)
  needed = {portion.dataset for plan in study.runs() for portion in plan.portions}
  needed |= {evaluation.dataset for evaluation in study.evaluation_sets()}
  assert needed <= set(p0_smoke.DATASETS) | set(paper_smoke.DATASETS) | set(p2_smoke.DATASETS)
  assert {evaluation.task for evaluation in study.evaluation_sets()} == {
      evaluation.task for evaluation in next(
          design for design in catalogue.designs() if design.name == "p2").evaluation_sets()}
