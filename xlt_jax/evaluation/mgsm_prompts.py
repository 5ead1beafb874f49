"""MGSM's prompting styles besides its native 8-shot prompt (`mgsm_format.few_shot_prompt`, P0).

P2 (Chen et al.) evaluates MGSM "5-shot with chain-of-thought" through lm-evaluation-harness
with default settings (papers.md P2.2). Its release is not public, so the prompt is
lm-eval's own `mgsm_native_cot_<lang>` task (lm_eval/tasks/mgsm/native_cot/*.yaml, generated
by lm_eval/tasks/mgsm/utils.py; checked against lm-eval 0.4.13, tests/test_mgsm_prompts.py):

- its few-shot pool is the `train` split of `juletxara/mgsm`, the 8 exemplars of the
  official `exemplars.py` in order "1".."8" (its loading script, mgsm.py, reads
  MGSM_EXEMPLARS: `question` = the exemplar's "q", `answer` = its "a", both with their
  localised labels); the test doc has `answer` None;
- a shot is `question + "\\n" + ANSWER + " " + answer[len(ANSWER) + 1:]` (doc_to_text, the
  target delimiter " ", doc_to_target), where ANSWER is utils.py's label, e.g.
  "Respuesta paso a paso:". utils.py assumes the exemplar's answer opens with ANSWER and a
  space; where the exemplar's own label differs (zh, ja: full-width colon, no space; ru:
  "Пошаговое решение:" against utils.py's "Пошаговоерешение:"), lm-eval's slice drops or
  keeps a character, and so do we: the prompt is lm-eval's, quirks included;
- shots end with "\\n\\n" (the default fewshot delimiter), then `QUESTION + " " + question
  + "\\n" + ANSWER`;
- the shots are `random.Random(1234).sample(pool, 5)` drawn anew for each test doc in
  file order (lm-eval's default sampler; 1234 is simple_evaluate's fewshot_random_seed),
  so the i-th test question gets the i-th draw;
- generation stops at the language's QUESTION label (`until`), and the answer is the last
  number in the completion (the `flexible-extract` filter: `answers.final_number`).

P4 (Dhaliwal et al.) prompts "with the language-specific equivalent of the phrase 'Let's
think step by step' immediately before answer generation, consistent with the prompting
format used in mCoT-MATH" (papers.md P4.2). mCoT's release (github.com/laihuiyuan/mCoT:
README "Prompt Template", data/prompt.txt, evlauation/infer.py `read_inputs`) formats a
question as "Question:\\n{question}\\nAnswer:\\n{trigger}\\n" with the phrases in
TRIGGER_PHRASES, and scores the last number of the completion. `trigger_prompt` is also
the prompt of P4's training and validation examples (`mcot_math_trigger`,
tasks/prompt_styles.py), so the model is evaluated on the format it was trained on.
"""

import random

from xlt_jax.core.errors import UserInputError

# lm-eval's mgsm/utils.py LANGUAGES: (QUESTION, ANSWER) of the native-CoT tasks.
LM_EVAL_LABELS: dict[str, tuple[str, str]] = {
    "bn": ("প্রশ্ন:", "ধাপে ধাপে উত্তর:"),
    "de": ("Frage:", "Schritt-für-Schritt-Antwort:"),
    "en": ("Question:", "Step-by-Step Answer:"),
    "es": ("Pregunta:", "Respuesta paso a paso:"),
    "fr": ("Question :", "Réponse étape par étape :"),
    "ru": ("Задача:", "Пошаговоерешение:"),
    "sw": ("Swali:", "Jibu la Hatua kwa Hatua:"),
    "te": ("ప్రశ్న:", "దశలవారీగా సమాధానం:"),
    "th": ("โจทย์:", "คำตอบทีละขั้นตอน:"),
    "ja": ("問題：", "ステップごとの答え:"),
    "zh": ("问题：", "逐步解答:"),
}
LM_EVAL_FEWSHOT_SEED = 1234  # lm_eval.evaluator.simple_evaluate's fewshot_random_seed
P2_SHOTS = 5  # papers.md P2.2: MGSM "5-shot with chain-of-thought"

# mCoT's data/prompt.txt: "Let's think step by step" in each mCoT-MATH language.
TRIGGER_PHRASES: dict[str, str] = {
    "bn": "আসুন ধাপে ধাপে চিন্তা করি।",
    "de": "Denken wir Schritt für Schritt.",
    "en": "Let's think step by step.",
    "es": "Pensemos paso a paso.",
    "fr": "Réfléchissons étape par étape.",
    "ja": "段階的に考えてみましょう。",
    "ru": "Давайте думать поэтапно.",
    "sw": "Hebu fikiria hatua kwa hatua.",
    "te": "అంచెలంచెలుగా ఆలోచిద్దాం.",
    "th": "ลองคิดทีละขั้นตอน",
    "zh": "让我们一步步思考。",
}
TRIGGER_TEMPLATE = "Question:\n{question}\nAnswer:\n{trigger}\n"  # mCoT's infer.py

# Where a chain-of-thought answer ends: lm-eval stops each language at its own question
# label; the evaluator stops a task at one list, so it holds every language's label (a
# label of another language does not occur in an answer). The trigger template's
# "Question:" is English's: a model that starts the next question has answered, and
# stopping there keeps that question's numbers out of the final-number extraction.
STOP_SEQUENCES: tuple[str, ...] = tuple(dict.fromkeys(
    question for question, _ in LM_EVAL_LABELS.values()))


def _check(language: str, table: dict, what: str) -> None:
  if language not in table:
    raise UserInputError(f"{what} has no language {language!r}; it has {', '.join(table)}")


def lm_eval_cot_shot(question: str, answer: str, answer_label: str) -> str:
  """One exemplar as lm-eval's native-CoT task writes it (its doc_to_text, " ",
  doc_to_target of a train doc: `answer[len(answer_label) + 1:]`)."""
  return f"{question}\n{answer_label} {answer[len(answer_label) + 1:]}"


def lm_eval_cot_prompts(exemplars: list[tuple[str, str]], questions: list[str], language: str,
                        shots: int = P2_SHOTS,
                        seed: int = LM_EVAL_FEWSHOT_SEED) -> list[str]:
  """lm-eval's `mgsm_native_cot_<language>` prompts of `questions` with `shots` shots.

  Guarantees the exact text lm-eval renders (no chat template) for the test docs in this
  order: the i-th prompt's shots are the i-th `random.Random(seed).sample` of the
  exemplars, so a prompt depends on its question's position in the file, not on which
  items an evaluation samples.

  Args:
    exemplars: the language's official (question, answer) exemplars in order "1".."8",
      each opening with its localised label (`mgsm_format.read_exemplars`).
    questions: the test questions in file order.

  Raises:
    UserInputError: a language lm-eval has no task for, or more shots than exemplars.
  """
  _check(language, LM_EVAL_LABELS, "lm-eval's mgsm_native_cot")
  if not 0 < shots <= len(exemplars):
    raise UserInputError(f"{shots} shots need at least that many exemplars, got"
                         f" {len(exemplars)}")
  question_label, answer_label = LM_EVAL_LABELS[language]
  rnd = random.Random(seed)
  prompts = []
  for question in questions:
    context = "".join(lm_eval_cot_shot(shot_question, shot_answer, answer_label) + "\n\n"
                      for shot_question, shot_answer in rnd.sample(list(exemplars), shots))
    prompts.append(f"{context}{question_label} {question}\n{answer_label}")
  return prompts


def trigger_prompt(question: str, language: str) -> str:
  """mCoT's zero-shot prompt: the question, then the language's "Let's think step by step".

  Exactly "Question:\\n{question}\\nAnswer:\\n{trigger}\\n" with the question stripped, as
  mCoT's infer.py builds it.

  Raises:
    UserInputError: a language mCoT has no trigger phrase for.
  """
  _check(language, TRIGGER_PHRASES, "mCoT's trigger phrases")
  return TRIGGER_TEMPLATE.format(question=question.strip(), trigger=TRIGGER_PHRASES[language])
