"""Seeds as a sweep axis: a budget trained once per training seed on the same examples,
recorded per run and shown as run-to-run noise in the report."""

import dataclasses
import json

import pytest

from xlt_jax.core.errors import UserInputError
from xlt_jax.reporting import report, results
from xlt_jax.runner import study_runner
from xlt_jax.studies.designs import MultiTaskDesign, StudyDesign, plan_runs
from xlt_jax.training import trainer

DESIGN = StudyDesign(name="noise", dataset="demo_arith", seen_languages=("es",),
                     unseen_languages=("pt",), budgets=(0, 16), english_size=32)


def test_one_seed_keeps_todays_names_and_several_seeds_repeat_every_budget():
  assert [plan.name for plan in plan_runs(DESIGN)] == ["budget00000", "budget00016"]
  assert all(plan.training_seed is None for plan in plan_runs(DESIGN))
  seeded = plan_runs(dataclasses.replace(DESIGN, seeds=(0, 42)))
  assert [plan.name for plan in seeded] == ["budget00000_seed0", "budget00000_seed42",
                                            "budget00016_seed0", "budget00016_seed42"]
  assert [plan.mixture for plan in seeded][:2] == ["noise_budget00000_seed0",
                                                   "noise_budget00000_seed42"]
  # The same examples in every seed's run: only the training seed differs.
  assert seeded[2].portions == seeded[3].portions and seeded[2].seed == seeded[3].seed
  multi = MultiTaskDesign(name="m", datasets=("a", "b"), seen_languages=("es",),
                          unseen_languages=(), budgets=(0,), english_size=4, seeds=(1, 2, 3))
  assert [plan.training_seed for plan in plan_runs(multi)] == [1, 2, 3]
  with pytest.raises(UserInputError, match="seeds"):
    dataclasses.replace(DESIGN, seeds=(1, 1))


def _experiment(design, seed=0):
  return study_runner.Experiment(model_dir="unused", study=design, model=None, mesh=None,
                                 optimizer=None, train=trainer.TrainConfig(seed=seed),
                                 evaluation=None)


def test_each_run_trains_with_its_own_seed():
  design = dataclasses.replace(DESIGN, seeds=(0, 42))
  seeds = [study_runner.run_train_config(_experiment(design), plan).seed
           for plan in plan_runs(design)]
  assert seeds == [0, 42, 0, 42]
  # Without seeds in the design, TrainConfig.seed is the runs' seed, as before.
  assert study_runner.run_train_config(_experiment(DESIGN, 5), plan_runs(DESIGN)[0]).seed == 5
  with pytest.raises(UserInputError, match="TrainConfig.seed=5"):
    study_runner.run_train_config(_experiment(design, 5), plan_runs(design)[0])


def test_the_report_averages_seeds_and_shows_their_spread(tmp_path):
  runs = [{"name": f"budget{budget:05d}_seed{seed}", "budget": budget, "seed": seed,
           "run_dir": f"runs/budget{budget:05d}_seed{seed}", "kept_examples": 40 + budget}
          for budget in (0, 16) for seed in (0, 42)]
  (tmp_path / "study.json").write_text(json.dumps({
      "study": "noise", "dataset": "demo_arith", "metric": "accuracy", "english": "en",
      "seen_languages": ["es"], "unseen_languages": ["pt"], "budgets": [0, 16], "runs": runs,
      "length_warnings": ["run budget00016_seed0: the length policy drops 5 ..."]}))
  for index, run in enumerate(runs):
    eval_dir = tmp_path / run["run_dir"] / "eval"
    eval_dir.mkdir(parents=True)
    languages = {language: {"accuracy": 0.1 * index + offset}
                 for language, offset in (("en", 0.5), ("es", 0.2), ("pt", 0.0))}
    (eval_dir / "metrics.json").write_text(json.dumps({"checkpoint_step": 10, "metric": "accuracy",
                                                       "languages": languages}))
  report.build_report(str(tmp_path), str(tmp_path))
  markdown = (tmp_path / "report.md").read_text()
  # Each cell is the mean over the budget's seeds: en at budget 16 is (0.7 + 0.8) / 2.
  assert "| en | 0.55 | 0.75 |" in markdown
  assert "Cells average the runs repeated with other seeds (budget 0: 2 runs, budget 16: 2 runs)" in markdown
  assert "run-to-run spread" in markdown.lower()
  assert "run budget00016_seed0: the length policy drops 5" in markdown
  assert "| budget00016_seed42 | 16 | 42 | 10 | 56 | ok |" in markdown
  # Runs that share a budget need distinct seeds.
  study = json.loads((tmp_path / "study.json").read_text())
  study["runs"][1]["seed"] = 0
  (tmp_path / "study.json").write_text(json.dumps(study))
  with pytest.raises(UserInputError, match="share a budget"):
    results.read_study(str(tmp_path))
