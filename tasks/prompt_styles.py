"""Prompt-styled datasets: a dataset's own rows with each prompt rendered in a paper's style.

`<base>_<style>` reads the base's files with the base's reader (same layout under
DATA_DIR, same rows, same targets and answers) and replaces each example's `inputs`
with `render(inputs, language)`, so that a model is trained on the prompt format it is
evaluated with when the evaluation set's prompts come from the same `render`.

P4 (Dhaliwal et al.) elicits chain of thought "by prompting the model with the
language-specific equivalent of the phrase 'Let's think step by step' immediately before
answer generation, consistent with the prompting format used in mCoT-MATH", in training
and evaluation (papers.md P4.2). `mcot_math_trigger` (tasks/datasets.py) is mCoT-MATH
rendered by `xlt_jax.evaluation.mgsm_prompts.trigger_prompt`, the renderer of P4's test
set `mgsm_cot_trigger`. What mCoT's release (github.com/laihuiyuan/mCoT, checked at
commit 20e9a86) says about its training format:

- it ships no training script or training-data formatter: README, data/prompt.txt (the
  phrases), evlauation/infer.py (`read_inputs`: "Question:\\n{question}\\nAnswer:\\n
  {trigger}\\n" with the question stripped) and the fine-tuned model's outputs;
- the paper (arXiv 2406.02301, Fig. 4) builds the instruction data by inserting the
  translated question and answer "into the templates", and the README gives one
  "Prompt Template" for the model, the one infer.py uses;
- the released mCoT outputs (outputs/mcot_ft_mgsm_<lang>.json: `question` is the prompt,
  `response` the completion) begin the chain of thought directly after the trigger line
  (e.g. "Janet's ducks lay 16 eggs per day.\\n..."), as a model trained with the answer
  right after "{trigger}\\n" does.

So training uses the inference template, the chain of thought as the target right after
it. (The Hugging Face model card writes the template with a space before each newline,
"Question: \\n{question} \\nAnswer: \\n{language}\\n"; we follow the code, infer.py.)

Guarantees: ids are the base's row keys under the styled dataset's task name
("mcot_math_trigger_ja_train:7"), so parallel pooling (row keys) works as for the base;
provenance is the base's (its files, counts) tagged with the style.
"""

import dataclasses
from collections.abc import Callable

from tasks import variants
from tasks.formats import rows
from tasks.naming import task_name


def make_styled(base, style: str, render: Callable[[str, str], str],
                languages: tuple[str, ...], metric: str | None = None):
  """The dataset `<base.name>_<style>`: `base`'s examples with `render(inputs, language)`
  as their inputs (targets, answers and every other field unchanged).

  Args:
    base: a `tasks.datasets.Dataset` whose `load` reports provenance.
    style: the suffix of the styled dataset's name, e.g. "trigger".
    render: (the base's prompt, language) -> the styled prompt; raises UserInputError for
      a language it has no style for.
    languages: the styled dataset's languages, those of the base that `render` knows.
    metric: how its completions are scored (validation decoding) when not the base's: the
      metric of the evaluation set that shares `render`.
  """
  if base.load is None:
    raise AssertionError(f"dataset {base.name} has no provenance-reporting load")
  unknown = sorted(set(languages) - set(base.languages))
  if unknown:
    raise AssertionError(f"{base.name}_{style}: languages {unknown} are not {base.name}'s")
  name = f"{base.name}_{style}"

  def load(data_dir: str, language: str, split: str,
           policy: rows.ReadPolicy) -> rows.LoadResult:
    result = base.load(data_dir, language, split, policy)
    base_prefix = task_name(base.name, language, split) + ":"
    prefix = task_name(name, language, split) + ":"
    examples = [{**variants.renamed(example, base_prefix, prefix),
                 "inputs": render(example["inputs"], language)} for example in result.examples]
    return dataclasses.replace(result, examples=examples,
                               tags={**result.tags, "prompt_style": style, "styled_from": base.name})

  def read(data_dir: str, language: str, split: str) -> list[dict[str, str]]:
    return load(data_dir, language, split, rows.DEFAULT_POLICY).examples

  return dataclasses.replace(base, name=name, read=read, load=load, languages=tuple(languages),
                             metric=metric or base.metric)
