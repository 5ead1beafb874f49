"""P1's side-by-side judge over a study's runs (`evaluation/pairwise_runs.py`).

1. Reference selection: each evaluation language's reference is the run trained on it
   alone (P1.2: IF_L(M_D) = S×S(M_{D_L}, M_D)); a language without one, or with two, is one
   error naming it, raised before training.
2. `judge_study` on an evaluated study in the launcher's layout (tests/evaluated_study.py)
   against the loopback stub judge: the files land where the report reads them, with the
   verdicts the stub's rule implies, finished comparisons are not judged again, and a
   changed prediction re-judges only what it changes.
3. The launcher end to end (slow): gin/smoke/p1.gin with the judge bound, every non-reference
   run judged, the report's win rates and heatmap from the stub's verdicts.
"""

import csv
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from evaluated_study import write_evaluation, write_study
from openai_stub_server import StubChatServer

from xlt_jax import evaluate as evaluate_binary
from xlt_jax import report as report_binary
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import pairwise_runs
from xlt_jax.evaluation.judges.protocols import JudgeConfig
from xlt_jax.services.config import ChatServiceConfig
from xlt_jax.studies.paper_designs import PinchDesign

REPO = pathlib.Path(__file__).resolve().parents[1]
P1 = JudgeConfig("p1_pairwise")


def test_each_language_is_referenced_by_the_run_trained_on_it_alone():
  runs = {"mono_en": ["en"], "mono_es": ["es"], "bilingual_en_es": ["en", "es"],
          "mono_zh": ["zh"]}
  assert pairwise_runs.references(runs, ["en", "es"], "p1") == {"en": "mono_en",
                                                                "es": "mono_es"}
  with pytest.raises(UserInputError, match=r"study 'p1': .* ar responses with the run trained"
                                           r" on ar alone, and the study has none .*mono_ar"):
    pairwise_runs.references(runs, ["en", "ar"], "p1")
  with pytest.raises(UserInputError, match=r"runs mono_es, mono_es_seed1 all train on es alone"):
    pairwise_runs.references({**runs, "mono_es_seed1": ["es"]}, ["es"], "p1")


def _pinch(selected: tuple[str, ...], evaluations) -> PinchDesign:
  return PinchDesign(name="p1", dataset="lima_oasst", languages=("en", "es", "zh", "ar"),
                     total=16, percentages=(50,), six_languages=("en", "es", "zh"),
                     addition_orders=(("es", "en", "zh"),), bilingual_pairs=(("en", "es"),),
                     extra_monolingual=(), evaluations=evaluations, selected_runs=selected)


def test_plan_judging_of_a_pinch_design():
  design = _pinch(("mono_en", "mono_es", "pinch4_p050"),
                  (("alpaca_farm", ("en",)), ("alpaca_farm_translated_google", ("es",))))
  plan = pairwise_runs.plan_judging(design, P1)
  assert plan.tasks == ("alpaca_farm", "alpaca_farm_translated_google")
  assert plan.runs == ("mono_en", "mono_es", "pinch4_p050")
  assert plan.reference_of == {"en": "mono_en", "es": "mono_es"}
  # Every run against each other language's reference; with the base model's predictions
  # the reference runs against the base on every language (P1 App. F).
  assert [(c.run, c.reference, c.languages) for c in pairwise_runs.comparisons(plan, None)] == [
      ("mono_en", "mono_es", ("es",)), ("mono_es", "mono_en", ("en",)),
      ("pinch4_p050", "mono_en", ("en",)), ("pinch4_p050", "mono_es", ("es",))]
  base = pairwise_runs.comparisons(plan, "runs/pinch4_p050/eval/base/predictions.jsonl")[4:]
  assert [(c.run, c.reference, c.reference_predictions, c.languages) for c in base] == [
      ("mono_en", "base", "runs/pinch4_p050/eval/base/predictions.jsonl", ("en", "es")),
      ("mono_es", "base", "runs/pinch4_p050/eval/base/predictions.jsonl", ("en", "es"))]
  # A pointwise judge, or none, compares nothing; gin/smoke/p1.gin's runs lack mono_es.
  assert pairwise_runs.plan_judging(design, JudgeConfig("p0_pointwise")) is None
  assert pairwise_runs.plan_judging(design, None) is None
  smoke = _pinch(("mono_en", "pinch4_p050", "bilingual_en_es"),
                 (("alpaca_farm", ("en",)), ("alpaca_farm_translated_google", ("es", "zh"))))
  with pytest.raises(UserInputError, match=r"trained on es alone.*mono_es"):
    pairwise_runs.plan_judging(smoke, P1)


def test_the_evaluator_checks_a_pairwise_judge_and_leaves_it_to_the_launcher(tmp_path):
  from xlt_jax.evaluation import evaluator

  service = ChatServiceConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="")
  config = evaluator.EvaluationConfig(judge=P1, judge_service=service)
  assert evaluator.check_judge(config) and evaluator.is_pairwise(config)
  assert evaluator.judge_client(config, str(tmp_path)) is None  # no run judges alone
  pointwise = evaluator.EvaluationConfig(judge=JudgeConfig("p0_pointwise"), judge_service=service)
  assert not evaluator.is_pairwise(pointwise)
  with pytest.raises(UserInputError, match="judge_service is not"):
    evaluator.check_judge(evaluator.EvaluationConfig(judge=P1))


def test_the_evaluate_binary_refuses_the_pairwise_protocol(capsys):
  assert evaluate_binary.main(["--run_dir=/nonexistent", "--judge_model=m",
                               "--judge_protocol=p1_pairwise"]) == 2
  [line] = capsys.readouterr().err.strip().splitlines()
  assert line.startswith("error: --judge_protocol=p1_pairwise compares each run")


def longer_answer_judge(body: dict) -> str:
  """Prefers the longer answer (characters); equal lengths: Answer1 (a tie over both orders)."""
  prompt = body["messages"][-1]["content"]
  first = re.search(r"Answer1:\n(.*)\nAnswer2:", prompt, re.DOTALL).group(1)
  second = re.search(r"Answer2:\n(.*?)\nWhich one", prompt, re.DOTALL).group(1)
  return "2" if len(second) > len(first) else "1"


def expected_score(ours: list[str], theirs: list[str]) -> float:
  """S×S under `longer_answer_judge`: longer wins (1), shorter loses (0), equal ties (0.5)."""
  scores = [1.0 if len(a) > len(b) else 0.0 if len(a) < len(b) else 0.5
            for a, b in zip(ours, theirs, strict=True)]
  return 100 * sum(scores) / len(scores)


def _csv(path: pathlib.Path) -> list[dict]:
  with open(path, newline="", encoding="utf-8") as file:
    return list(csv.DictReader(file))


RUNS = {"mono_en": ["en"], "mono_es": ["es"], "bilingual_en_es": ["en", "es"]}
WORDS = {"mono_en": 1, "mono_es": 2, "bilingual_en_es": 3}
TASKS = {"alpaca_farm": "llm_judge", "alpaca_farm_translated_google": "llm_judge"}


def _text(run: str, index: int, language: str = "en") -> str:
  """Distinct per run and language (so no two requests coincide), its length set by index."""
  return f"{run[:7]}-{language} " + "w" * (1 + (index * WORDS[run]) % 4)


def test_judge_study_writes_the_reports_layout_and_resumes(tmp_path):
  root = write_study(tmp_path / "study", "p1", "PinchDesign", "en", ["es"], [], RUNS,
                     list(TASKS.items()))
  for run in RUNS:  # ids repeat across languages (alpaca_farm:0 ...): joined per language
    write_evaluation(root, run, {"alpaca_farm": {"en": [1.0] * 6},
                                 "alpaca_farm_translated_google": {"es": [1.0] * 6}},
                     TASKS, prediction=lambda language, index, run=run: _text(run, index, language))
  plan = pairwise_runs.PairwisePlan(P1, tuple(TASKS), tuple(RUNS),
                                    {"en": "mono_en", "es": "mono_es"})
  with StubChatServer(reply=longer_answer_judge) as server:
    service = ChatServiceConfig(base_url=server.url, model="stub/judge", api_key_env="")
    written = pairwise_runs.judge_study(plan, str(root), service, stream=io.StringIO())
    assert [pathlib.Path(path).relative_to(root / "runs").as_posix() for path in written] == [
        "mono_en/eval/pairwise/mono_es/judge-p1_pairwise-stub_judge.jsonl",
        "mono_es/eval/pairwise/mono_en/judge-p1_pairwise-stub_judge.jsonl",
        "bilingual_en_es/eval/pairwise/mono_en/judge-p1_pairwise-stub_judge.jsonl",
        "bilingual_en_es/eval/pairwise/mono_es/judge-p1_pairwise-stub_judge.jsonl"]
    first_hits = len(server.hits)
    assert (root / "judge_cache").is_dir()  # MODEL_DIR/judge_cache/ by default
    # Finished: nothing is asked again, nothing rewritten.
    before = {path: pathlib.Path(path).stat().st_mtime_ns for path in written}
    assert pairwise_runs.judge_study(plan, str(root), service,
                                     stream=io.StringIO()) == written
    assert len(server.hits) == first_hits
    assert {path: pathlib.Path(path).stat().st_mtime_ns for path in written} == before
    assert report_binary.main([f"--results_dir={root}", "--resamples=50"]) == 0

  table = {row["run"]: row for row in _csv(root / "report" / "p1_sxs_monolingual_stub_judge.csv")}
  reference_of = {"en": "mono_en", "es": "mono_es"}
  for run in RUNS:
    cells = [50.0 if reference == run else
             expected_score([_text(run, i) for i in range(6)],
                            [_text(reference, i) for i in range(6)])
             for reference in reference_of.values()]
    assert [float(table[run][code]) for code in ("en", "es", "avg")] == pytest.approx(
        [*cells, sum(cells) / 2])
  wins = {(row["run"], row["reference"], row["language"]): row
          for row in _csv(root / "report" / "p1_win_rates.csv")}
  assert set(wins) == {("mono_en", "mono_es", "es"), ("mono_es", "mono_en", "en"),
                       ("bilingual_en_es", "mono_en", "en"), ("bilingual_en_es", "mono_es", "es")}
  assert all(row["items"] == "6" and row["unscored"] == "0" for row in wins.values())


def test_a_changed_prediction_or_the_base_model_is_judged_and_nothing_else(tmp_path):
  root = write_study(tmp_path / "study", "p1", "PinchDesign", "en", ["es"], [], RUNS,
                     list(TASKS.items()))
  for run in RUNS:
    write_evaluation(root, run, {"alpaca_farm": {"en": [1.0] * 4},
                                 "alpaca_farm_translated_google": {"es": [1.0] * 4}},
                     TASKS, prediction=lambda language, index, run=run: _text(run, index, language))
  plan = pairwise_runs.PairwisePlan(P1, tuple(TASKS), tuple(RUNS),
                                    {"en": "mono_en", "es": "mono_es"})
  quiet = io.StringIO()
  with StubChatServer(reply=longer_answer_judge) as server:
    service = ChatServiceConfig(base_url=server.url, model="stub-judge", api_key_env="")
    pairwise_runs.judge_study(plan, str(root), service, stream=quiet)
    hits = len(server.hits)
    # bilingual_en_es re-decoded one English item: only that item's two orders are new
    # requests (the rest of its comparison comes from the cache).
    path = root / "runs" / "bilingual_en_es" / "eval" / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["prediction"] = "a much longer answer than any other"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    pairwise_runs.judge_study(plan, str(root), service, stream=quiet)
    assert len(server.hits) == hits + 2
    items = [json.loads(line) for line in (path.parent / "pairwise" / "mono_en" /
                                           "judge-p1_pairwise-stub-judge.jsonl").open()]
    assert items[0]["verdict"] == "win"
    # The base model's predictions (eval/base/ of any run): the reference runs are judged
    # against them on every language, 2 x 8 items x 2 orders.
    write_evaluation(root, "bilingual_en_es", {"alpaca_farm": {"en": [0.0] * 4},
                                               "alpaca_farm_translated_google": {"es": [0.0] * 4}},
                     TASKS, checkpoint="base", prediction=lambda language, index: "")
    hits = len(server.hits)
    written = pairwise_runs.judge_study(plan, str(root), service, stream=quiet)
    assert len(server.hits) == hits + 2 * 8 * 2
    assert [pathlib.Path(path).parent.relative_to(root / "runs").as_posix()
            for path in written[4:]] == ["mono_en/eval/pairwise/base", "mono_es/eval/pairwise/base"]
    for path in written[4:]:
      verdicts = [json.loads(line)["verdict"]
                  for line in pathlib.Path(path).read_text().splitlines()]
      assert verdicts == ["win"] * 8  # every response is longer than the empty base one

  # A reference without predictions: one error naming it.
  (root / "runs" / "mono_es" / "eval" / "predictions.jsonl").unlink()
  with pytest.raises(UserInputError, match=r"the reference mono_es has no predictions"):
    pairwise_runs.judge_study(plan, str(root), service, stream=quiet)


def _launch(*arguments: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  return subprocess.run([sys.executable, "-m", "xlt_jax.launch", *arguments], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.slow
def test_p1_smoke_study_is_judged_side_by_side_by_the_launcher(tmp_path):
  """gin/smoke/p1.gin with P1's judge bound to the stub: English and Spanish references
  (mono_en, mono_es) and the 50% pinch run; every run judged against the other language's
  reference, the report's win rates and S×S heatmap from the stub's verdicts; a relaunch
  judges only the base model's comparisons it finds."""
  with StubChatServer(reply=longer_answer_judge) as server:
    arguments = [
        "--gin_file=gin/smoke/p1.gin", f"--gin.MODEL_DIR='{tmp_path}'",
        "--gin.PinchDesign.selected_runs=('mono_en', 'mono_es', 'pinch4_p050')",
        ("--gin.PinchDesign.evaluations=(('alpaca_farm', ('en',)),"
         " ('alpaca_farm_translated_google', ('es',)))"),
        "--gin.EvaluationConfig.judge=@JudgeConfig()",
        "--gin.JudgeConfig.protocol='p1_pairwise'",
        "--gin.EvaluationConfig.judge_service=@ChatServiceConfig()",
        f"--gin.ChatServiceConfig.base_url='{server.url}'",
        "--gin.ChatServiceConfig.model='stub-judge'", "--gin.ChatServiceConfig.api_key_env=''"]
    result = _launch(*arguments)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = tmp_path / "runs"
    metrics = json.loads((runs / "pinch4_p050" / "eval" / "metrics.json").read_text())
    assert metrics["tasks"]["alpaca_farm"]["judge"] == (
        "p1_pairwise: side by side in eval/pairwise/<REFERENCE>/")

    def predictions(run: str, language: str, directory: str = "eval") -> list[str]:
      rows = [json.loads(line) for line in (runs / run / directory / "predictions.jsonl").open()]
      return [row["prediction"] for row in rows if row["language"] == language]

    compared = {("mono_en", "mono_es"): "es", ("mono_es", "mono_en"): "en",
                ("pinch4_p050", "mono_en"): "en", ("pinch4_p050", "mono_es"): "es"}
    found = {(path.parts[-5], path.parts[-2]) for path in
             runs.glob("*/eval/pairwise/*/judge-p1_pairwise-stub-judge.jsonl")}
    assert found == set(compared)
    table = {row["run"]: row for row in
             _csv(tmp_path / "report" / "p1_sxs_monolingual_stub-judge.csv")}
    wins = {(row["run"], row["reference"], row["language"]): row
            for row in _csv(tmp_path / "report" / "p1_win_rates.csv")}
    for (run, reference), language in compared.items():
      expected = expected_score(predictions(run, language), predictions(reference, language))
      assert float(table[run][language]) == pytest.approx(expected)
      assert float(wins[(run, reference, language)]["sxs_score"]) == pytest.approx(expected)
    assert float(table["mono_en"]["en"]) == float(table["mono_es"]["es"]) == 50.0
    assert (tmp_path / "report" / "p1_sxs_monolingual_stub-judge.png").is_file()
    assert "Side-by-side judgments (P1)" in (tmp_path / "report" / "report.md").read_text()

    # The base model's predictions appear (as `evaluate --checkpoint=base` writes them; the
    # smoke trains from scratch, so they are copied in with empty responses): a relaunch
    # trains, evaluates and re-judges nothing else, and the reference runs get a base row.
    base = runs / "pinch4_p050" / "eval" / "base"
    base.mkdir()
    rows = [json.loads(line) for line in (runs / "mono_en" / "eval" / "predictions.jsonl").open()]
    (base / "predictions.jsonl").write_text(
        "".join(json.dumps({**row, "prediction": ""}) + "\n" for row in rows))
    hits = len(server.hits)
    again = _launch(*arguments)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("already judged") == 4
    assert len(server.hits) - hits <= 2 * 2 * len(rows)  # both orders, two reference runs
    assert all('Answer1:\n\nAnswer2' in hit["body"]["messages"][-1]["content"]
               or 'Answer2:\n\nWhich one' in hit["body"]["messages"][-1]["content"]
               for hit in server.hits[hits:])
    against_base = {row["run"]: row for row in
                    _csv(tmp_path / "report" / "p1_sxs_base_stub-judge.csv")}
    assert sorted(against_base) == ["mono_en", "mono_es"]
    for run in against_base:
      for language in ("en", "es"):
        expected = expected_score(predictions(run, language), ["" for _ in
                                                               predictions(run, language)])
        assert float(against_base[run][language]) == pytest.approx(expected)
