"""The one list of every study's runs and their stable mixture names.

Names are computed from the designs below without reading data, so they can be
listed, configured and checked anywhere:

- `demo_budget00050`, `smoke_budget00016`: the demo studies of gin/demo_cpu.gin and
  gin/smoke_cpu.gin (a test checks the gin files build these same designs);
- P0 `p0_single_<dataset>_budgetNNNNN`, `p0_multi_budgetNNNNN`,
  `p0_latin_<dataset>_...` / `p0_nonlatin_<dataset>_...` (script mixes);
- P1 `p1_mono_<l>`, `p1_pinch12_pPPP`, `p1_pinch6_pPPP`, `p1_languages_<codes>`,
  `p1_bilingual_<a>_<b>`;
- P2 `p2_native_<l>`, `p2_translated_<engine>_<l>`, `p2_rtt_<engine>_<l>`,
  `p2_multi_native`, `p2_multi_translated_<engine>`;
- P3 `p3_mono`, `p3_multi<i>_native`, `p3_multi<i>_translated`;
- P4 `p4_<math|api>_nNN_<languages or without_<l>>` (22 per task).

Each run's validation mixture is its name + `_validation`.
"""

import difflib
import functools

from tasks import mixtures, selection
from xlt_jax.core.errors import UserInputError
from xlt_jax.studies.designs import MultiTaskDesign, RunPlan, StudyDesign, plan_runs
from xlt_jax.studies.paper_designs import ConditionDesign, ParallelDesign, PinchDesign, PolyglotDesign

# Dataset names of tasks/datasets.py (tests/test_catalogue_datasets.py checks that every
# design finds its datasets, languages and splits there); a variant is
# `<dataset>_<variant>`, read from DATA_DIR/variants/<variant>/ (tasks/variants.py).
XLSUM, SHAREGPT, MCOT_MATH = "xlsum", "sharegpt", "mcot_math"  # P0 Table 1 (bare questions)
# P4's mCoT-MATH: prompted with mCoT's trigger phrases as its MGSM test set is (P4.2).
MCOT_MATH_TRIGGER, MGSM_COT_TRIGGER = "mcot_math_trigger", "mgsm_cot_trigger"
LIMA_OASST = "lima_oasst"  # P1: LIMA + OASST first turns and their translations (parallel)
AYA_DATASET = "aya_dataset"  # P2 native; aya_dataset_translated_<engine>, _rtt_<engine>
GUANACO = "guanaco"  # P3 native; guanaco_translated (MT of the English examples)
API_CALLING = "api_calling"  # P4's mAPICall-Bank
# Test sets of the P0 tasks (evaluation only; training reads the names above). P0's IF
# test set is Aya's Dolly-200, "the 200 human-selected prompts per language": of the
# suite's two copies only dolly_machine_translated (NLLB, 101 languages) has all eight
# P0 languages (dolly_human_edited, the post-edited one, has ar, es, fr, hi, ru, sr).
# MGSM has no pt, ko, ar: mgsm_p0 adds P0's Google translations of them (mgsm_translated).
P0_EVALUATION = {XLSUM: None, SHAREGPT: "dolly_machine_translated", MCOT_MATH: "mgsm_p0"}

P0_SEEN, P0_UNSEEN = ("es", "fr", "ja", "zh"), ("ar", "ko", "pt")  # P0 Table 1
P0_SINGLE_BUDGETS = (0, 100, 200, 400, 800, 1000, 2000, 5000)  # P0 §4
P0_MULTI_BUDGETS = (0, 100, *range(500, 7001, 500))  # P0 §5, per language per task
# P0 does not give a validation size; 200 matches P4's per-language validation sets.
P0_VALIDATION_SIZE = 200


def _p0_designs() -> list:
  designs = []
  for dataset in (XLSUM, SHAREGPT, MCOT_MATH):
    common = dict(dataset=dataset, budgets=P0_SINGLE_BUDGETS, english_size=10_000,
                  validation_size=P0_VALIDATION_SIZE, evaluation_dataset=P0_EVALUATION[dataset])
    designs.append(StudyDesign(name=f"p0_single_{dataset}", seen_languages=P0_SEEN,
                               unseen_languages=P0_UNSEEN, **common))
    # P0 §6: [en + es, fr] and [en + ja, zh]; the other seen languages become unseen.
    designs.append(StudyDesign(name=f"p0_latin_{dataset}", seen_languages=("es", "fr"),
                               unseen_languages=("ja", "zh", *P0_UNSEEN), **common))
    designs.append(StudyDesign(name=f"p0_nonlatin_{dataset}", seen_languages=("ja", "zh"),
                               unseen_languages=("es", "fr", *P0_UNSEEN), **common))
  designs.append(MultiTaskDesign(
      name="p0_multi", datasets=(SHAREGPT, XLSUM, MCOT_MATH), seen_languages=P0_SEEN,
      unseen_languages=P0_UNSEEN, budgets=P0_MULTI_BUDGETS, english_size=5_000,
      validation_size=P0_VALIDATION_SIZE,
      evaluation_datasets=tuple(P0_EVALUATION[d] for d in (SHAREGPT, XLSUM, MCOT_MATH))))
  return designs


def _demo_designs() -> list:
  """The studies of gin/demo_cpu.gin and gin/smoke_cpu.gin (kept equal by a test)."""
  return [
      StudyDesign(name="demo", dataset="demo_arith", seen_languages=("es", "fr", "ja", "zh"),
                  unseen_languages=("ar", "ko", "pt"), budgets=(0, 50, 200), english_size=600,
                  validation_size=32, evaluation_size=250, seed=0),
      StudyDesign(name="smoke", dataset="demo_arith", seen_languages=("es", "ja"),
                  unseen_languages=("ar", "pt"), budgets=(0, 16, 32), english_size=48,
                  validation_size=8, evaluation_size=8),
  ]


def designs() -> list:
  """Every catalogued study design, demo first, then the papers in order."""
  return [
      *_demo_designs(),
      *_p0_designs(),
      PinchDesign(name="p1", dataset=LIMA_OASST),
      ConditionDesign(name="p2", dataset=AYA_DATASET),
      PolyglotDesign(name="p3", dataset=GUANACO),
      # P4 trains on mCoT-MATH and tests on MGSM (mCoT-MATH has no test split), both (and
      # the validation decoding) prompted with mCoT's per-language "Let's think step by
      # step" (P4.2), one renderer for the three (tasks/prompt_styles.py).
      ParallelDesign(name="p4_math", dataset=MCOT_MATH_TRIGGER, count=10_000,
                     validation_size=200, evaluation_dataset=MGSM_COT_TRIGGER),
      ParallelDesign(name="p4_api", dataset=API_CALLING, count=3_024, validation_size=150),
  ]


@functools.cache
def _index() -> dict[str, tuple[object, RunPlan]]:
  index = {}
  for design in designs():
    for plan in plan_runs(design):
      if plan.mixture in index or plan.validation_mixture in index:
        raise UserInputError(f"mixture {plan.mixture} is defined by two studies")
      index[plan.mixture] = (design, plan)
  return index


def mixture_names() -> list[str]:
  """Every training mixture name, in catalogue order (stable across versions)."""
  return list(_index())


def _lookup(name: str) -> tuple[object, RunPlan]:
  index = _index()
  if name not in index:
    near = difflib.get_close_matches(name, list(index), n=5, cutoff=0.6)
    hint = (f"; did you mean {', '.join(near)}?" if near
            else "; list them with python -m xlt_jax.inspect")
    raise UserInputError(f"unknown mixture {name!r}{hint}")
  return index[name]


def design_for(name: str):
  """The study design that defines mixture `name` (UserInputError with near matches)."""
  return _lookup(name)[0]


def plan_for(name: str) -> RunPlan:
  """The run plan of mixture `name` (UserInputError with near matches)."""
  return _lookup(name)[1]


def select_mixture(name: str, data_dir: str) -> dict:
  """The manifest of mixture `name` on the files in data_dir (reads data, registers nothing)."""
  return selection.select_run(plan_for(name), data_dir)


def register_mixture(name: str, data_dir: str, vocabulary) -> mixtures.RegisteredRun:
  """Registers mixture `name`'s tasks and its training and validation mixtures.

  Returns:
    The run with its manifest (example ids, counts per task and language, seed,
    source sha256).

  Raises:
    UserInputError: unknown mixture (with near matches), dataset or language, a budget
      larger than the available data, or a task name already holding other examples.
  """
  plan = plan_for(name)
  return mixtures.register_run(plan, selection.select_run(plan, data_dir), data_dir, vocabulary)
