"""P1-P4's designs in the launcher: each one's test sets exist in the dataset catalogue,
`selected_runs` shrinks a sweep, run.json's record rebuilds the design, study.json's
language roles, and the generated mAPICall-Bank stand-ins read back through the real
reader and score 1.0 against themselves with the API-call metric."""

import dataclasses
import json

import pytest

from tasks import catalogue, datasets, mixtures
from xlt_jax.core.errors import UserInputError
from xlt_jax.data import p0_smoke, paper_smoke
from xlt_jax.evaluation import evaluator, task_metrics
from xlt_jax.runner import gin_setup
from xlt_jax.runner.study_runner import language_roles
from xlt_jax.studies.paper_designs import ParallelDesign, PolyglotDesign

PAPER_DESIGNS = [design for design in catalogue.designs()
                 if type(design).__name__ in ("PinchDesign", "ConditionDesign",
                                              "PolyglotDesign", "ParallelDesign")]


def test_every_paper_design_is_catalogued_and_known_to_the_evaluator():
  assert sorted(design.name for design in PAPER_DESIGNS) == ["p1", "p2", "p3", "p4_api",
                                                             "p4_math"]
  assert all(type(design) in evaluator.DESIGNS.values() for design in PAPER_DESIGNS)


@pytest.mark.parametrize("design", PAPER_DESIGNS, ids=lambda design: design.name)
def test_test_sets_have_a_test_split_in_every_evaluation_language(design):
  mixtures.check_evaluation_sets(design)  # raises on a missing split or language
  metrics = {evaluation.task: datasets.get_dataset(evaluation.dataset).metric
             for evaluation in design.evaluation_sets()}
  expected = {"p1": {"alpaca_farm": "llm_judge", "alpaca_farm_translated_google": "llm_judge"},
              "p3": {"alpaca_eval": "llm_judge", "xquad": "squad_exact_match",
                     "xcsqa": "multiple_choice_accuracy", "xnli": "multiple_choice_accuracy"},
              "p4_math": {"mcot_math_trigger": "cot_accuracy"},
              "p4_api": {"api_calling": "api_call_exact_match"}}
  if design.name in expected:
    assert metrics == expected[design.name]
  else:  # P2: XQuAD, MGSM (5-shot CoT), MMLU family and the human-translated OASST questions
    assert metrics["xquad"] == "squad_exact_match"
    assert metrics["mgsm_5shot_cot"] == "cot_accuracy"
    assert metrics["oasst_human_translated"] == "llm_judge"
    assert metrics["ceval"] == metrics["cmmlu"] == "multiple_choice_accuracy"


@pytest.mark.parametrize("design,labelled", [("p2", {"tydiqa", "ceval"}), ("p3", {"xcsqa"})])
def test_sets_released_with_hidden_or_no_test_answers_decode_their_validation_split(
    design, labelled):
  """TyDi QA GoldP has no test split; C-Eval ("Labels on the test split are not released")
  and X-CSQA ("hidden for test data") hide their test answers, so each is scored on its
  labelled validation split (C-Eval's val, X-CSQA's dev); every other set on its test split
  (P2's ceval in zh, P3's xcsqa in its seven languages)."""
  [study] = [study for study in PAPER_DESIGNS if study.name == design]
  splits = {evaluation.task: evaluation.split for evaluation in study.evaluation_sets()}
  assert {task for task, split in splits.items() if split == "validation"} == labelled
  assert set(splits.values()) == {"test", "validation"}
  languages = {evaluation.task: evaluation.languages for evaluation in study.evaluation_sets()}
  if design == "p2":
    assert languages["ceval"] == ("zh",)
  else:
    assert languages["xcsqa"] == ("en", "de", "es", "fr", "zh", "ru", "hi")


@pytest.mark.parametrize("design", PAPER_DESIGNS, ids=lambda design: design.name)
def test_run_json_record_rebuilds_the_design(design):
  record = json.loads(json.dumps(dataclasses.asdict(design)))  # nested tuples -> lists
  rebuilt = evaluator.design_of({"run": "r", "design": type(design).__name__, "study": record})
  assert rebuilt == design
  assert [plan.name for plan in rebuilt.runs()] == [plan.name for plan in design.runs()]


def test_p4_math_is_scored_on_mgsm_in_the_core_and_unseen_languages():
  [evaluation] = catalogue.design_for("p4_math_n01_en").evaluation_sets()
  assert (evaluation.task, evaluation.dataset) == ("mcot_math_trigger", "mgsm_cot_trigger")
  assert evaluation.languages == ("en", "es", "ja", "bn", "sw", "te")


def test_p4_math_trains_and_validates_on_mcot_math_prompted_as_its_test_set():
  """P4.2: the trigger phrase prompts training and evaluation alike, so every run's training
  and validation portions read mcot_math_trigger (P0 keeps the bare mcot_math), whose
  validation decoding is scored like the test set (the final number)."""
  for name in ("p4_math_n01_en", "p4_math_n10_all"):
    plan = catalogue.plan_for(name)
    assert {portion.dataset for portion in plan.portions} == {"mcot_math_trigger"}
    assert {dataset for dataset, _ in plan.pools.values()} == {"mcot_math_trigger"}
  assert datasets.get_dataset("mcot_math_trigger").metric == datasets.get_dataset(
      "mgsm_cot_trigger").metric == "cot_accuracy"
  assert {portion.dataset for portion in catalogue.plan_for(
      "p0_single_mcot_math_budget00100").portions} == {"mcot_math"}


def test_selected_runs_keeps_the_named_runs_in_design_order():
  design = ParallelDesign(name="p", dataset="mcot_math", count=10, validation_size=2,
                          selected_runs=("n05_core", "n01_en"))
  assert [plan.name for plan in design.runs()] == ["n01_en", "n05_core"]
  assert len(dataclasses.replace(design, selected_runs=()).runs()) == 22
  with pytest.raises(UserInputError, match=r"selected_runs \['n99'\] are not among its runs"):
    dataclasses.replace(design, selected_runs=("n99",)).runs()


def test_language_roles_of_a_mixture_design_follow_what_its_runs_train():
  design = ParallelDesign(name="p", dataset="mcot_math", count=10, validation_size=2,
                          core=("en", "es", "ja"), additional=("fr",), unseen=("zh",),
                          selected_runs=("n01_en", "n02_en_es"))
  assert language_roles(design) == ("en", ("es",), ("ja", "zh"))  # no selected run trains ja
  polyglot = PolyglotDesign(name="p3", dataset="guanaco", languages=("es", "ru"), total=1000,
                            evaluations=(("xquad", ("en", "es", "de")),))
  assert language_roles(polyglot) == ("en", ("es",), ("de",))


def test_duplicate_test_sets_are_refused():
  design = PolyglotDesign(name="p3", dataset="guanaco",
                          evaluations=(("xquad", ("en",)), ("xquad", ("de",))))
  with pytest.raises(UserInputError, match="distinct test sets"):
    design.evaluation_sets()


def test_api_calling_stand_ins_read_back_and_match_their_own_calls(tmp_path):
  sizes = {"train": 5, "validation": 2, "test": 3}
  paper_smoke.write_paper_smoke_datasets(str(tmp_path), sizes)
  metric = task_metrics.get("api_call_exact_match")
  ids = {}
  for language in paper_smoke.LANGUAGES:
    for split, size in sizes.items():
      examples = datasets.read_examples("api_calling", str(tmp_path), language, split)
      assert len(examples) == size
      ids.setdefault(split, set()).add(tuple(example["id"].rsplit(":", 1)[1]
                                             for example in examples))
    example = datasets.read_examples("api_calling", str(tmp_path), language, "test")[0]
    assert example["targets"].startswith("SubmitAnswer(value=")
    extracted, scores = metric.score(task_metrics.Item(language, example["inputs"],
                                                       example["targets"], example["answer"]))
    assert (extracted, scores["exact_match"]) == ("SubmitAnswer", 1.0)
    wrong = example["targets"].replace("value=", "value=1")
    assert metric.score(task_metrics.Item(language, "", wrong, example["answer"]))[1][
        "exact_match"] == 0.0
  assert all(len(found) == 1 for found in ids.values())  # the same item ids in every language
  with pytest.raises(UserInputError, match="must be >= 0"):
    paper_smoke.write_paper_smoke_datasets(str(tmp_path), {"train": -1, "validation": 0,
                                                           "test": 0})


@pytest.mark.parametrize("dataset, languages, split", [
    ("guanaco", ("en", "fr", "ja"), "train"), ("guanaco_translated", ("fr", "ja"), "train"),
    ("alpaca_eval", paper_smoke.ALPACA_EVAL_LANGUAGES, "test"),
    ("xquad", paper_smoke.XQUAD_LANGUAGES, "test"), ("xnli", paper_smoke.XNLI_LANGUAGES, "test"),
    ("lima_oasst", paper_smoke.LIMA_OASST_LANGUAGES, "train"), ("alpaca_farm", ("en",), "test"),
    ("alpaca_farm_translated_google", ("es", "zh", "ar"), "test")])
def test_p1_and_p3_stand_ins_read_back_through_their_readers(tmp_path, dataset, languages, split):
  sizes = {"train": 6, "validation": 1, "test": 3}
  paper_smoke.write_paper_smoke_datasets(str(tmp_path), sizes)
  for language in languages:
    examples = datasets.read_examples(dataset, str(tmp_path), language, split)
    assert len(examples) == sizes[split], language
    if dataset in ("guanaco_translated", "lima_oasst"):  # pooled with the English items
      assert [example["parallel_id"] for example in examples][:2] in (
          ["1", "2"], ["lima.1", "lima.2"])
    if dataset == "xquad":  # the answer span is in the passage
      assert all(example["answer"] in example["inputs"] for example in examples)


def test_xcsqa_stand_ins_hide_test_answers_and_a_hidden_test_split_is_refused(tmp_path):
  """The stand-ins are the X-CSR layout (ja in `jap/`): dev answered, test without
  answerKey. Evaluating the test split is refused before any registration, naming the
  dataset, split and language; the validation split is five-way and answered."""
  sizes = {"train": 2, "validation": 5, "test": 3}
  paper_smoke.write_paper_smoke_datasets(str(tmp_path), sizes)
  assert (tmp_path / "xcsqa" / "jap" / "dev.jsonl").is_file()
  for language in paper_smoke.XCSQA_LANGUAGES:
    dev = datasets.read_examples("xcsqa", str(tmp_path), language, "validation")
    assert [example["answer"] for example in dev] == list("ABCDE")
    for example in dev:  # the answer key labels the problem's answer among five numbers
      lines = example["inputs"].split("\n")
      assert len(lines) == 6 and json.loads(example["choices"]) == list("ABCDE")
      assert f"{example['answer']}. " in "\n".join(lines[1:])
    test = datasets.read_examples("xcsqa", str(tmp_path), language, "test")
    assert len(test) == 3 and {(e["answer"], e["targets"]) for e in test} == {("", "")}
  hidden = PolyglotDesign(name="p3", dataset="guanaco",
                          evaluations=(("xcsqa", ("en", "ja"), "test"),))
  with pytest.raises(UserInputError) as refused:
    mixtures.register_evaluation_tasks(hidden, str(tmp_path), vocabulary=None)
  assert str(refused.value) == (
      "dataset xcsqa has no reference answer for any of its 3 test items in en (a release"
      " that hides its test answers): evaluate xcsqa on its validation split"
      " (EvaluationSet.split, the third element of the design's evaluations entry)")


@pytest.mark.parametrize("name, runs", [
    ("p4_math", ["n01_en", "n02_en_es", "n03_core"]),
    ("p4_api", ["n01_en", "n02_en_es", "n03_core"]),
    ("p3", ["mono", "multi2_native", "multi2_translated"]),
    ("p1", ["mono_en", "pinch4_p050", "bilingual_en_es"])])
def test_smoke_gins_build_a_few_runs_of_their_paper_design(name, runs):
  experiment, _ = gin_setup.build_experiment([f"gin/smoke/{name}.gin"], ["MODEL_DIR = '/tmp/x'"])
  assert experiment.study.name == name
  assert [plan.name for plan in experiment.study.runs()] == runs
  mixtures.check_evaluation_sets(experiment.study)
  # Every dataset the study reads is generated: no DATA_DIR needed.
  needed = {portion.dataset for plan in experiment.study.runs() for portion in plan.portions}
  needed |= {evaluation.dataset for evaluation in experiment.study.evaluation_sets()}
  assert needed <= set(p0_smoke.DATASETS) | set(paper_smoke.DATASETS)
