"""The judges' prompts, word for word, each with a version string that enters the cache key.

P0, P1 and P2 are copied from the papers' figures as transcribed in the project's
reproduction notes (`papers.md`): P0 = Shimabucoro et al. 2025, Appendix A, Figure 9; P1 =
Shaham et al. 2024, Figure 9 (its question line really is printed twice); P2 = Chen et al.
2024, Figure 7 (its line breaks are the figure's, kept as printed). The placeholders are the
papers' own (`{question}`, `{response 1}`, `${instruction}`, ...) and are filled in one
pass (`render`), so text in an instruction that looks like a placeholder is never replaced.

P3 (Kew et al. 2023) printed its judge prompt as Figure 16, in an appendix that is missing
from the text we have; `papers.md` points to LIMA's Appendix D helpfulness template (Zhou et
al. 2023), which P3 says it follows. The template below is the one P3's authors released with
their code: `llm_judge.py` in github.com/ZurichNLP/multilingual-instruction-tuning (commits
5000b2c594316c9631ffa33e34084f24d90b8a33 and de435a413d432defa89f21eef78146bee78f9e0b hold
the same text), LIMA's 6-point helpfulness criterion with a JSON reply
(`{"reasoning": str, "score": int}`), its system message, and its request settings in
`api_request_parallel_processor.py` (temperature 0, seed 42, `response_format` JSON object).
It is a Python format string there (`{{` for a literal brace) and is rendered the same way
here. Trailing spaces at line ends are the release's own.

Change a prompt's text only together with its version string.
"""

import re
from collections.abc import Mapping

P0_VERSION = "p0-shimabucoro2025-fig9-v1"
P0_TEMPLATE = """Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user instruction displayed below. Your evaluation should consider factors such as helpfulness, relevance, accuracy, depth, creativity, and level of detail. It is also required that the response is in the same language as the instruction.

Begin your evaluation with a short explanation. Be as objective as possible. After providing your explanation, please rate the response on a scale of 1 to 5 by strictly following this format: "[rating]", for example: "Rating: [[2]]"

[Question]
{question}

[The Start of Assistant's Answer]
{generation}
[The End of Assistant's Answer]"""

P1_VERSION = "p1-shaham2024-fig9-v1"
P1_TEMPLATE = """Below is an instruction and two answers. Choose your preferred answer, which can be subjective.
The instruction:
{instruction}
Answer1:
{response 1}
Answer2:
{response 2}
Which one is better Answer1 or Answer2?
Which one is better, Answer1 or Answer2?
Only write a single digit as your answer, '1' for Answer1 or '2' for Answer2. Do not add any explanation."""

P2_VERSION = "p2-chen2024-fig7-v1"
P2_TEMPLATE = """Please act as an impartial judge and evaluate
the quality of a response to a user instruction
displayed below. Your evaluation should
consider factors such as helpfulness, relevance,
accuracy, depth, creativity, and level of detail.
Begin your evaluation with a brief explanation.
After that, please rate the response on a scale
of 1 to 5 by strictly following this format:
"[[rating]]". The rating must be enclosed by two
square brackets, for example: "Rating: [[2]]".

[User Instruction]
${instruction}

[Response]
${response}"""

P3_VERSION = "p3-kew2023-zurichnlp-llm_judge-5000b2c-v1"
P3_SYSTEM = "You are an expert language evaluator."
# Built from explicit pieces so that the release's trailing spaces survive editors.
P3_TEMPLATE = (
    "You are evaluating a response that has been submitted for a particular task, using a "
    "specific set of standards. Below is the data: \n"
    "\n"
    "[BEGIN DATA]\n"
    "***\n"
    "[Task]: {prompt} \n"
    "***\n"
    "[Submission]: {response}\n"
    "***\n"
    "[Criterion]: helpfulness: \n"
    "\n"
    "\"1\": \"Not helpful - The generated text is completely irrelevant, unclear, or incomplete. "
    "It does not provide any useful information to the user.\" \n"
    "\n"
    "\"2\": \"Somewhat helpful - The generated text has some relevance to the user's question, "
    "but it may be unclear or incomplete. It provides only partial information, logical "
    "inconsistencies, or the information provided may not be useful for the user's needs.\" \n"
    "\n"
    "\"3\": \"Moderately helpful - The generated text is relevant to the user's question, and it "
    "provides a clear and complete answer. However, it may lack detail or explanation that "
    "would be helpful for the user.\" \n"
    "\n"
    "\"4\": \"Helpful - The generated text is quite relevant to the user's question, and it "
    "provides a clear, complete, and detailed answer. It offers additional information or "
    "explanations that are useful for the user. However, some of the points of the response "
    "are somewhat repetitive or could be combined for greater clarity and concision\" \n"
    "\n"
    "\"5\": \"Very helpful - The generated text is highly relevant to the user's question, and "
    "it provides a clear, complete, and detailed answer. It offers additional information, "
    "explanations, or analogies that are not only useful but also insightful and valuable to "
    "the user. However, the structured of the response is not well-organized and there is no "
    "clear progression or logical sequence of different points in the response.\" \n"
    "\n"
    "\"6\": \"Highly helpful - The generated text provides a clear, complete, and detailed "
    "answer. It offers additional information or explanations that are not only useful but "
    "also insightful and valuable to the user. The response is also in a logical and "
    "easy-to-follow manner by explicitly using headings, bullet points, or numbered lists to "
    "break up the information and make it easier to read.\" \n"
    "***\n"
    "[END DATA]\n"
    "\n"
    "Does the submission meet the criterion? First, write out in a step by step manner your "
    "reasoning about the criterion to be sure that your conclusion is correct. Avoid simply "
    "stating the correct answers at the outset. \n"
    "Provide your response as a RFC8259 compliant JSON following this schema:\n"
    "\n"
    "{{\"reasoning\": str, \"score\": int}}\n"
    "\n")
# The SHA-256 of P3_TEMPLATE as released (checked by tests/test_judges.py), so an edit that
# changes one character or space is caught.
P3_TEMPLATE_SHA256 = "c21ee5560fc30b55d2ae57d57daf913001aa60a2242be4613198672751c9aeda"

_PLACEHOLDERS = re.compile(r"\$\{instruction\}|\$\{response\}|\{question\}|\{generation\}"
                           r"|\{instruction\}|\{response 1\}|\{response 2\}")


def render(template: str, values: Mapping[str, str]) -> str:
  """`template` with each of its placeholders (as written in the paper, e.g. `{response 1}`
  or `${instruction}`) replaced by `values[placeholder]`, in one pass.

  Raises:
    KeyError: a placeholder of the template has no value.
  """
  return _PLACEHOLDERS.sub(lambda match: values[match.group(0)], template)


def p0_messages(instruction: str, response: str) -> list[dict[str, str]]:
  """P0's pointwise request: one user message."""
  text = render(P0_TEMPLATE, {"{question}": instruction, "{generation}": response})
  return [{"role": "user", "content": text}]


def p1_messages(instruction: str, answer1: str, answer2: str) -> list[dict[str, str]]:
  """P1's side-by-side request with `answer1` shown first."""
  text = render(P1_TEMPLATE, {"{instruction}": instruction, "{response 1}": answer1,
                              "{response 2}": answer2})
  return [{"role": "user", "content": text}]


def p2_messages(instruction: str, response: str) -> list[dict[str, str]]:
  """P2's pointwise request: one user message."""
  text = render(P2_TEMPLATE, {"${instruction}": instruction, "${response}": response})
  return [{"role": "user", "content": text}]


def p3_messages(instruction: str, response: str) -> list[dict[str, str]]:
  """P3's Likert request: the released system message, then the template rendered as the
  release renders it (`str.format`)."""
  return [{"role": "system", "content": P3_SYSTEM},
          {"role": "user", "content": P3_TEMPLATE.format(prompt=instruction, response=response)}]
