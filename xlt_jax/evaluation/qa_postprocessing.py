"""Cleaning a generated extractive-QA answer before it is scored, as a study did it.

P3 (Kew et al., "Turning English-centric LLMs Into Polyglots", XQuAD, footnote 7): "when
queried with German and Russian prompts, all models consistently repeated the question
before providing the extracted answer ... we strip away the question and truncate the
system output to a maximum of 50 characters or the first line break, whichever comes
first." The paper gives no code; `p3` applies that sentence in this order:

1. remove every occurrence of the question (without its surrounding whitespace) from
   the output;
2. drop leading whitespace (the output follows the forced prefix "Based on the passage,
   the answer to the question is", so it usually starts with a space);
3. keep the text before the first line break (LF or CR);
4. keep at most the first 50 characters (Unicode code points);
5. drop surrounding whitespace.

An empty question removes nothing.
"""

P3_MAX_CHARACTERS = 50

POSTPROCESSING = ("none", "p3")


def p3(prediction: str, question: str) -> str:
  """P3's XQuAD post-processing of `prediction`, given the item's `question` (see above)."""
  question = question.strip()
  if question:
    prediction = prediction.replace(question, "")
  first_line = prediction.lstrip().replace("\r", "\n").split("\n", 1)[0]
  return first_line[:P3_MAX_CHARACTERS].strip()
