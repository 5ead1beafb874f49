"""Datasets the tasks read: where each file lives under DATA_DIR and how rows become examples.

An example is a dict of strings: id (stable across runs: "<task>:<line>"),
language, inputs (the prompt text), targets (the reference completion) and
answer (the normalised reference answer the metric compares against).
Conversation datasets add `conversation` (the whole dialogue as JSON) and
multiple-choice datasets add `choices` (a JSON list); see tasks/formats/.
Parallel and translated examples add `parallel_id` (see tasks/selection.py).

Besides one dataset per official source there are:
- variants `<base>_<variant>`, a translated or round-trip-translated copy read in the
  base's format from DATA_DIR/variants/<variant>/ (tasks/variants.py): P2's
  aya_dataset_translated_<engine> and aya_dataset_rtt_<engine>, P3's guanaco_translated;
- lima_oasst, P1's parallel LIMA + OASST first turns (tasks/formats/lima_oasst.py);
- unions, one test set assembled per language from several datasets, each example
  keeping its own dataset's id: mgsm_p0 (MGSM, with P0's Google-translated pt, ko, ar);
- MGSM's test questions in other prompting styles: mgsm_5shot_cot (P2) and
  mgsm_cot_trigger (P4), see xlt_jax/evaluation/mgsm_prompts.py;
- prompt-styled training sets `<base>_<style>` (tasks/prompt_styles.py): mcot_math_trigger,
  P4's mCoT-MATH prompted by the same renderer as mgsm_cot_trigger.
"""

import dataclasses
import functools
import os
from typing import Callable

from tasks import prompt_styles, variants
from tasks.formats import (
  alpaca_eval,
  api_calling,
  aya_dataset,
  aya_evaluation,
  ceval,
  cmmlu,
  guanaco,
  lima,
  lima_oasst,
  mcot_math,
  mgsm_translated,
  mmmlu,
  oasst,
  oasst_human_translated,
  okapi_mmlu,
  rows,
  sharegpt,
  tydiqa,
  xcsqa,
  xlsum,
  xnli,
  xquad,
)
from tasks.naming import task_name
from xlt_jax.core import paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation import answers, mgsm_format, mgsm_prompts

ReadPolicy = rows.ReadPolicy

MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
DEMO_LANGUAGES = ("en", "es", "fr", "ja", "zh", "ar", "ko", "pt")


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One dataset: its languages, splits, metric, files under DATA_DIR and reader.

  Attributes:
    path: (data_dir, language, split) -> the main file of that task.
    read: (data_dir, language, split) -> examples, with the default ReadPolicy.
    licence, source_url: where the data comes from and on what terms.
    kind: "prompt_completion", "conversation" (examples carry `conversation`),
      "multiple_choice" (examples carry `choices`), "extractive_qa" or "api_call".
    load: (data_dir, language, split, policy) -> rows.LoadResult with the
      provenance counts; None for datasets whose `read` is strict (no row is
      ever left out, so rows read = rows kept).
    evaluation_sample: test items per language that a study evaluates when its design
      names no `evaluation_size`: the papers' seeded random samples (EVALUATION_SAMPLES);
      None evaluates every test item.
  """

  name: str
  languages: tuple[str, ...]
  splits: tuple[str, ...]
  metric: str
  path: Callable[[str, str, str], str]  # (data_dir, language, split) -> file
  read: Callable[[str, str, str], list[dict[str, str]]]  # (data_dir, language, split) -> examples
  licence: str = ""
  source_url: str = ""
  kind: str = "prompt_completion"
  load: Callable[[str, str, str, rows.ReadPolicy], rows.LoadResult] | None = None
  evaluation_sample: int | None = None


def _check_data_dir(data_dir: str) -> None:
  if not paths.isdir(data_dir):
    raise UserInputError(f"data directory {data_dir} does not exist")


def _demo_path(data_dir: str, language: str, split: str) -> str:
  return os.path.join(data_dir, "demo_arith", split, f"{language}.tsv")


def _read_demo(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
  """Zero-shot word problems; the target is the localised answer sentence."""
  _check_data_dir(data_dir)
  name = task_name("demo_arith", language, split)
  return [
      {
          "id": f"{name}:{row.line_number}",
          "language": language,
          "inputs": row.question,
          "targets": answers.answer_sentence(language, row.answer),
          "answer": row.answer,
      }
      for row in mgsm_format.read_mgsm_tsv(_demo_path(data_dir, language, split))
  ]


def _mgsm_path(data_dir: str, language: str, split: str) -> str:
  del split  # MGSM has a test split only.
  return os.path.join(data_dir, "mgsm", f"mgsm_{language}.tsv")


@functools.lru_cache(maxsize=8)
def _mgsm_exemplars(path: str) -> dict[str, list[tuple[str, str]]]:
  return mgsm_format.read_exemplars(path)


def _read_mgsm(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
  """MGSM test questions with the official native-language 8-shot CoT prompt."""
  _check_data_dir(data_dir)
  exemplars = _mgsm_exemplars(os.path.join(data_dir, "mgsm", "exemplars.json"))[language]
  name = task_name("mgsm", language, split)
  return [
      {
          "id": f"{name}:{row.line_number}",
          "language": language,
          "inputs": mgsm_format.few_shot_prompt(exemplars, row.question),
          "targets": answers.answer_sentence(language, row.answer),
          "answer": row.answer,
      }
      for row in mgsm_format.read_mgsm_tsv(_mgsm_path(data_dir, language, split))
  ]


def _mgsm_styled(name: str, prompts: Callable[[str, str, list[str]], list[str]]):
  """A reader of MGSM's test questions whose prompts `prompts(data_dir, language,
  questions)` builds from all of a language's questions in file order (lm-eval's
  few-shot draws depend on the position)."""

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    _check_data_dir(data_dir)
    questions = mgsm_format.read_mgsm_tsv(_mgsm_path(data_dir, language, split))
    texts = prompts(data_dir, language, [row.question for row in questions])
    task = task_name(name, language, split)
    return [{"id": f"{task}:{row.line_number}", "language": language, "inputs": text,
             "targets": answers.answer_sentence(language, row.answer), "answer": row.answer}
            for row, text in zip(questions, texts)]

  return read


def _p2_cot_prompts(data_dir: str, language: str, questions: list[str]) -> list[str]:
  exemplars = _mgsm_exemplars(os.path.join(data_dir, "mgsm", "exemplars.json"))[language]
  return mgsm_prompts.lm_eval_cot_prompts(exemplars, questions, language)


def _p4_trigger_prompts(data_dir: str, language: str, questions: list[str]) -> list[str]:
  del data_dir  # the phrases are mCoT's, not a file's
  return [mgsm_prompts.trigger_prompt(question, language) for question in questions]


def _from_format(name: str, module, kind: str = "prompt_completion", path=None, load=None,
                 **overrides) -> Dataset:
  """A Dataset whose layout, reader and metadata come from a tasks/formats module."""
  load = load or module.load

  def checked_load(data_dir: str, language: str, split: str,
                   policy: rows.ReadPolicy) -> rows.LoadResult:
    _check_data_dir(data_dir)
    return load(data_dir, language, split, policy)

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    return checked_load(data_dir, language, split, rows.DEFAULT_POLICY).examples

  values = dict(languages=module.LANGUAGES, splits=module.SPLITS, metric=module.METRIC,
                licence=module.LICENCE, source_url=module.SOURCE_URL)
  values.update(overrides)
  return Dataset(name=name, path=path or module.path, read=read, kind=kind, load=checked_load,
                 **values)


# The papers' evaluation samples per language (papers.md): P0 scores "250 randomly selected"
# XLSum test items, P3 "300 randomly sampled" AlpacaEval prompts, P2 "50 questions per
# language directly sampled from OASST1".
EVALUATION_SAMPLES = {"xlsum": 250, "alpaca_eval": 300, "oasst": 50}


def _format_datasets() -> list[Dataset]:
  found = [
      _from_format("xlsum", xlsum, evaluation_sample=EVALUATION_SAMPLES["xlsum"]),
      _from_format("sharegpt", sharegpt, kind="conversation"),
      _from_format("mcot_math", mcot_math),
      _from_format("mgsm_translated", mgsm_translated),
  ]
  for subset in aya_evaluation.SUBSETS:
    found.append(_from_format(subset, aya_evaluation, path=aya_evaluation.path_for(subset),
                              load=aya_evaluation.load_for(subset),
                              languages=aya_evaluation.SUBSET_LANGUAGES[subset]))
  found += [
      _from_format("aya_dataset", aya_dataset),
      _from_format("lima", lima),
      _from_format("oasst", oasst, evaluation_sample=EVALUATION_SAMPLES["oasst"]),
      _from_format("alpaca_eval", alpaca_eval,
                   evaluation_sample=EVALUATION_SAMPLES["alpaca_eval"]),
      _from_format("alpaca_farm", alpaca_eval, path=alpaca_eval.farm_path,
                   load=alpaca_eval.load_farm, languages=alpaca_eval.FARM_LANGUAGES,
                   source_url="https://github.com/tatsu-lab/alpaca_farm"),
      _from_format("guanaco", guanaco, kind="conversation"),
      _from_format("xquad", xquad, kind="extractive_qa"),
      _from_format("xnli", xnli, kind="multiple_choice"),
      _from_format("xcsqa", xcsqa, kind="multiple_choice"),
      _from_format("api_calling", api_calling, kind="api_call"),
      _from_format("lima_oasst", lima_oasst),
      # P2's closed-ended test sets (few-shot prompts built by the readers) and its
      # human-translated OASST questions.
      _from_format("tydiqa", tydiqa, kind="extractive_qa"),
      _from_format("cmmlu", cmmlu, kind="multiple_choice"),
      _from_format("ceval", ceval, kind="multiple_choice"),
      _from_format("okapi_mmlu", okapi_mmlu, kind="multiple_choice"),
      _from_format("mmmlu", mmmlu, kind="multiple_choice"),
      _from_format("oasst_human_translated", oasst_human_translated),
  ]
  return found


# P2 (Chen et al.): Google Translate and Command R (its Figure 6 prompt), from English or
# round trip through English; P3 (Kew et al.): GPT-3.5-Turbo from English.
P2_ENGINES = {"google": "Google Translate", "cohere": "Cohere Command R"}


def _variant_datasets(bases: dict[str, Dataset]) -> list[Dataset]:
  found = []
  for engine, engine_name in P2_ENGINES.items():
    found.append(variants.make_variant(
        bases["aya_dataset"], variants.Variant(f"translated_{engine}", "translated", engine_name)))
    found.append(variants.make_variant(
        bases["aya_dataset"], variants.Variant(f"rtt_{engine}", "round_trip", engine_name)))
  found.append(variants.make_variant(
      bases["guanaco"], variants.Variant("translated", "translated", "GPT-3.5-Turbo")))
  found.append(_unreleased_farm_translation(variants.make_variant(
      bases["alpaca_farm"], variants.Variant("translated_google", "translated",
                                             "Google Translate"),
      languages=alpaca_eval.P1_FARM_LANGUAGES)))
  return found


def _unreleased_farm_translation(variant: Dataset) -> Dataset:
  """P1's AlpacaFarm translations were never released: a missing file says so and where the
  user's own translation goes (alpaca_eval.FARM_TRANSLATION_NOTE)."""

  def load(data_dir: str, language: str, split: str,
           policy: rows.ReadPolicy) -> rows.LoadResult:
    _check_data_dir(data_dir)
    source = variant.path(data_dir, language, split)
    if not paths.isfile(source):
      raise UserInputError(f"dataset {variant.name}: {source} does not exist."
                           f" {alpaca_eval.FARM_TRANSLATION_NOTE}")
    return variant.load(data_dir, language, split, policy)

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    return load(data_dir, language, split, rows.DEFAULT_POLICY).examples

  return dataclasses.replace(variant, load=load, read=read)


def _union(name: str, parts: tuple[str, ...], metric: str, source_url: str) -> Dataset:
  """A dataset whose every language is read from the first of `parts` that has it."""

  def owner(language: str) -> Dataset:
    return next(DATASETS[part] for part in parts if language in DATASETS[part].languages)

  def path(data_dir: str, language: str, split: str) -> str:
    return owner(language).path(data_dir, language, split)

  def union_load(data_dir: str, language: str, split: str,
                 policy: rows.ReadPolicy) -> rows.LoadResult:
    result = load(owner(language).name, data_dir, language, split, policy)
    return dataclasses.replace(result, tags={**result.tags, "read_from": owner(language).name})

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    return union_load(data_dir, language, split, rows.DEFAULT_POLICY).examples

  members = [DATASETS[part] for part in parts]
  languages = tuple(dict.fromkeys(language for part in members for language in part.languages))
  splits = tuple(split for split in members[0].splits
                 if all(split in part.splits for part in members))
  return Dataset(name, languages, splits, metric, path, read,
                 licence="; ".join(f"{part.name}: {part.licence}" for part in members),
                 source_url=source_url, load=union_load)


DATASETS: dict[str, Dataset] = {
    "demo_arith": Dataset(
        "demo_arith", DEMO_LANGUAGES, ("train", "validation", "test"), "accuracy",
        _demo_path, _read_demo, licence="generated (xlt_jax/demo_data.py)",
    ),
    "mgsm": Dataset("mgsm", MGSM_LANGUAGES, ("test",), "accuracy", _mgsm_path, _read_mgsm,
                    licence="CC BY-SA 4.0",
                    source_url="https://github.com/google-research/url-nlp/tree/main/mgsm"),
    # MGSM's other prompting styles (xlt_jax/evaluation/mgsm_prompts.py), scored by the
    # final number with lm-eval's exact match: P2's 5-shot chain of thought (lm-eval's
    # mgsm_native_cot) and P4's "Let's think step by step" trigger phrases (mCoT's).
    "mgsm_5shot_cot": Dataset(
        "mgsm_5shot_cot", tuple(mgsm_prompts.LM_EVAL_LABELS), ("test",), "cot_accuracy",
        _mgsm_path, _mgsm_styled("mgsm_5shot_cot", _p2_cot_prompts), licence="CC BY-SA 4.0",
        source_url="https://github.com/google-research/url-nlp/tree/main/mgsm"),
    "mgsm_cot_trigger": Dataset(
        "mgsm_cot_trigger", tuple(mgsm_prompts.TRIGGER_PHRASES), ("test",), "cot_accuracy",
        _mgsm_path, _mgsm_styled("mgsm_cot_trigger", _p4_trigger_prompts),
        licence="CC BY-SA 4.0",
        source_url="https://github.com/google-research/url-nlp/tree/main/mgsm"),
    **{dataset.name: dataset for dataset in _format_datasets()},
}
DATASETS.update({dataset.name: dataset for dataset in _variant_datasets(DATASETS)})
# P4 trains on mCoT-MATH as it tests on MGSM: "Question:\n...\nAnswer:\n{trigger}\n", one
# renderer for both (mgsm_prompts.trigger_prompt), in the languages with a trigger phrase;
# its validation decoding (P4's checkpoint selection) is scored as the test set is.
DATASETS["mcot_math_trigger"] = prompt_styles.make_styled(
    DATASETS["mcot_math"], "trigger", mgsm_prompts.trigger_prompt,
    tuple(language for language in mcot_math.LANGUAGES if language in mgsm_prompts.TRIGGER_PHRASES),
    metric=DATASETS["mgsm_cot_trigger"].metric)
# P0 evaluates mathematical reasoning on MGSM's human translations and on its own Google
# translations of mgsm_en into pt, ko and ar (papers.md P0.2).
DATASETS["mgsm_p0"] = _union("mgsm_p0", ("mgsm", "mgsm_translated"), "accuracy",
                             DATASETS["mgsm"].source_url)


def get_dataset(name: str) -> Dataset:
  """The dataset called `name`, or UserInputError listing the known ones."""
  if name not in DATASETS:
    raise UserInputError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
  return DATASETS[name]


def _checked(dataset: str, language: str, split: str) -> Dataset:
  spec = get_dataset(dataset)
  if language not in spec.languages:
    raise UserInputError(
        f"dataset {dataset} has no language {language!r}; it has {', '.join(spec.languages)}"
    )
  if split not in spec.splits:
    raise UserInputError(f"dataset {dataset} has no split {split!r}; it has {', '.join(spec.splits)}")
  return spec


def load(dataset: str, data_dir: str, language: str, split: str,
         policy: rows.ReadPolicy = rows.DEFAULT_POLICY) -> rows.LoadResult:
  """Examples of one dataset x language x split with their provenance counts."""
  spec = _checked(dataset, language, split)
  if spec.load is not None:
    return spec.load(data_dir, language, split, policy)
  examples = spec.read(data_dir, language, split)  # strict: every row kept or an error
  return rows.LoadResult(examples, [spec.path(data_dir, language, split)], len(examples))


def read_examples(dataset: str, data_dir: str, language: str, split: str,
                  policy: rows.ReadPolicy | None = None) -> list[dict[str, str]]:
  """All examples of one dataset x language x split, validated against the dataset's lists.

  Malformed rows fail the read when more than `policy.max_malformed_fraction`
  of the rows are malformed (default ReadPolicy: 0.1%); fewer are left out,
  logged and counted in `provenance`.
  """
  if policy is None:
    return _checked(dataset, language, split).read(data_dir, language, split)
  return load(dataset, data_dir, language, split, policy).examples


def provenance(dataset: str, data_dir: str, language: str, split: str,
               policy: rows.ReadPolicy = rows.DEFAULT_POLICY) -> dict:
  """Where one task's examples come from, for manifests and the inspector.

  Returns a JSON-ready dict: dataset, language, split, licence, source_url,
  sources (each file read with its sha256), rows_read (rows of this language
  x split in the sources), rows_kept (examples), malformed (count) with the
  first problems as "file:line: what", filtered (rows left out on purpose, by
  reason) and tags (e.g. the translator of a machine-translated test set).
  Guarantees rows_read == rows_kept + malformed + sum(filtered.values()).
  """
  spec = get_dataset(dataset)
  result = load(dataset, data_dir, language, split, policy)
  return {
      "dataset": dataset,
      "language": language,
      "split": split,
      "licence": spec.licence,
      "source_url": spec.source_url,
      "sources": [{"path": paths.absolute(source), "sha256": rows.sha256_file(source)}
                  for source in result.sources],
      "rows_read": result.rows_read,
      "rows_kept": len(result.examples),
      "malformed": result.malformed,
      "malformed_examples": result.problems,
      "filtered": result.filtered,
      "tags": result.tags,
  }
