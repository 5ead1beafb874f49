"""Chat formatting per model family, for training targets and inference prompts.

Each family reproduces its model's official Hugging Face chat template (the Jinja
`chat_template` in the checkpoint's tokenizer_config.json) for plain text
conversations: an optional leading system message, then user and assistant turns
alternating, starting with the user. Tool calls, documents and images are not
supported. tests/test_chat_templates.py checks the token ids against
`transformers`' `apply_chat_template` with the official templates.

Families and the template each one follows:

  "cohere": CohereForAI/aya-23-8B and aya-23-35B (the Command-R default template):
      `<BOS_TOKEN><|START_OF_TURN_TOKEN|><|USER_TOKEN|>...<|END_OF_TURN_TOKEN|>`
      `<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>...<|END_OF_TURN_TOKEN|>`. A system
      message becomes a `<|SYSTEM_TOKEN|>` turn; without one, no system turn.
  "llama3": meta-llama/Llama-3.1-8B-Instruct. Its template always writes a system
      header with "Cutting Knowledge Date: December 2023" and "Today Date: 26 Jul
      2024" (the template's fixed default, used whenever the caller passes no
      `date_string`, as `apply_chat_template` does not), followed by the system
      message if any.
  "qwen": Qwen/Qwen2.5-Instruct (ChatML; Qwen3's thinking blocks are not produced).
      Without a system message the template inserts its default one, "You are
      Qwen, created by Alibaba Cloud. You are a helpful assistant."
  "gemma": google/gemma-3-*-it. Gemma has no system role: the template writes the
      system message, then a blank line, at the start of the first user turn.

  "guanaco": the Guanaco format of timdettmers/openassistant-guanaco (P3), which has
      no Jinja template: its `text` field is `### Human: {user}### Assistant: {reply}`
      repeated with nothing between turns (the dataset card's first row:
      `...cite relevant research.### Assistant: "Monopsony" refers to...### Human: Now
      explain it to a dog`), and P3's prompt file (ZurichNLP/multilingual-instruction-
      tuning, prompts/guanaco_prompt.txt) is `### Human: {{ instruction }}### Assistant:`.
      So the generation prompt ends with the colon and the reply, as trained, starts with
      its space. No system role (a system message is refused), no BOS written (the
      format is model-independent), contents kept as they are, and no end-of-turn
      token: P3 trained on the text as it is (its sft_training.py gives SFTTrainer the
      `text` field, adding no EOS), so a reply ends where `### Human:` would begin
      (STOP_TEXT; `reply_text` cuts a decoded reply there) or at EOS.

User and assistant contents are stripped of surrounding whitespace where the
official template strips them (all families but "qwen"); system messages likewise
("llama3" strips them, "cohere", "qwen" and "gemma" do not). "guanaco" strips nothing.
"""

import dataclasses
from typing import Callable, Sequence

from xlt_jax.core.errors import UserInputError

FAMILIES = ("cohere", "gemma", "guanaco", "llama3", "qwen")

# The token each family's model emits to end its turn: training targets end with
# it, and decoding stops on it. None: the format has no such token (Guanaco).
END_OF_TURN: dict[str, str | None] = {
    "cohere": "<|END_OF_TURN_TOKEN|>",
    "gemma": "<end_of_turn>",
    "guanaco": None,
    "llama3": "<|eot_id|>",
    "qwen": "<|im_end|>",
}
# Text that ends a reply in formats without an end-of-turn token: the next turn's header.
STOP_TEXT = {"guanaco": "### Human:"}

_LLAMA3_DATE_HEADER = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
_QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


@dataclasses.dataclass(frozen=True)
class Segment:
  """A piece of rendered conversation text.

  Attributes:
    text: the text, control tokens written out (e.g. "<|eot_id|>").
    trainable: True for what the model must learn to produce (assistant content
      and its end-of-turn token), False for everything it is given.
  """
  text: str
  trainable: bool


Message = dict[str, str]


def _check_family(family: str) -> None:
  if family not in END_OF_TURN:
    raise UserInputError(
        f"unknown chat template family {family!r}; known: {', '.join(FAMILIES)}")


def _check_messages(messages: Sequence[Message]) -> None:
  """Accepts [system?] user (assistant user)* [assistant], with string contents."""
  if not messages:
    raise UserInputError("a conversation needs at least one message")
  for index, message in enumerate(messages):
    if not isinstance(message, dict) or not isinstance(message.get("role"), str) or not (
        isinstance(message.get("content"), str)):
      raise UserInputError(
          f"message {index} must be a dict with string 'role' and 'content': {message!r}")
  start = 1 if messages[0]["role"] == "system" else 0
  for index in range(start, len(messages)):
    expected = "user" if (index - start) % 2 == 0 else "assistant"
    if messages[index]["role"] != expected:
      raise UserInputError(
          f"message {index} has role {messages[index]['role']!r} but {expected!r} was "
          "expected: conversations are an optional first system message, then user "
          "and assistant turns alternating, starting with user")


class _Builder:
  """Collects segments, merging neighbours of equal trainability."""

  def __init__(self):
    self.segments: list[Segment] = []

  def add(self, text: str, trainable: bool = False) -> None:
    if not text:
      return
    if self.segments and self.segments[-1].trainable == trainable:
      self.segments[-1] = Segment(self.segments[-1].text + text, trainable)
    else:
      self.segments.append(Segment(text, trainable))


def _split_system(messages: Sequence[Message]) -> tuple[str | None, Sequence[Message]]:
  if messages[0]["role"] == "system":
    return messages[0]["content"], messages[1:]
  return None, messages


def _render_cohere(messages, add_generation_prompt, out: _Builder) -> None:
  system, turns = _split_system(messages)
  out.add("<BOS_TOKEN>")
  if system is not None:
    out.add("<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>" + system + "<|END_OF_TURN_TOKEN|>")
  for message in turns:
    if message["role"] == "user":
      out.add("<|START_OF_TURN_TOKEN|><|USER_TOKEN|>" + message["content"].strip()
              + "<|END_OF_TURN_TOKEN|>")
    else:
      out.add("<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>")
      out.add(message["content"].strip() + "<|END_OF_TURN_TOKEN|>", trainable=True)
  if add_generation_prompt:
    out.add("<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>")


def _render_llama3(messages, add_generation_prompt, out: _Builder) -> None:
  system, turns = _split_system(messages)
  out.add("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
          + _LLAMA3_DATE_HEADER + (system or "").strip() + "<|eot_id|>")
  for message in turns:
    out.add("<|start_header_id|>" + message["role"] + "<|end_header_id|>\n\n")
    content = message["content"].strip() + "<|eot_id|>"
    out.add(content, trainable=message["role"] == "assistant")
  if add_generation_prompt:
    out.add("<|start_header_id|>assistant<|end_header_id|>\n\n")


def _render_qwen(messages, add_generation_prompt, out: _Builder) -> None:
  system, turns = _split_system(messages)
  out.add("<|im_start|>system\n" + (_QWEN_DEFAULT_SYSTEM if system is None else system)
          + "<|im_end|>\n")
  for message in turns:
    out.add("<|im_start|>" + message["role"] + "\n")
    out.add(message["content"] + "<|im_end|>", trainable=message["role"] == "assistant")
    # The newline after <|im_end|> is never generated (decoding stops at
    # <|im_end|>), so it is context, not a target.
    out.add("\n")
  if add_generation_prompt:
    out.add("<|im_start|>assistant\n")


def _render_gemma(messages, add_generation_prompt, out: _Builder) -> None:
  system, turns = _split_system(messages)
  first_user_prefix = "" if system is None else system + "\n\n"
  out.add("<bos>")
  for index, message in enumerate(turns):
    if message["role"] == "user":
      out.add("<start_of_turn>user\n" + (first_user_prefix if index == 0 else "")
              + message["content"].strip() + "<end_of_turn>\n")
    else:
      out.add("<start_of_turn>model\n")
      out.add(message["content"].strip() + "<end_of_turn>", trainable=True)
      out.add("\n")
  if add_generation_prompt:
    out.add("<start_of_turn>model\n")


def _render_guanaco(messages, add_generation_prompt, out: _Builder) -> None:
  system, turns = _split_system(messages)
  if system is not None:
    raise UserInputError("the guanaco chat format has no system role; put the system"
                         " message into the first user message")
  for index, message in enumerate(turns):
    if message["role"] == "user":
      out.add("### Human: " + message["content"])
      # A conversation may end with an unanswered question, as the dataset's first
      # row does: the assistant header only opens a reply that follows or is asked for.
      if index + 1 < len(turns) or add_generation_prompt:
        out.add("### Assistant:")
    else:
      # The reply's leading space is the model's: the prompt ends at the colon.
      out.add(" " + message["content"], trainable=True)


_RENDERERS = {
    "cohere": _render_cohere,
    "gemma": _render_gemma,
    "guanaco": _render_guanaco,
    "llama3": _render_llama3,
    "qwen": _render_qwen,
}


def render(family: str, messages: Sequence[Message],
           add_generation_prompt: bool = False) -> list[Segment]:
  """Formats a conversation the way the family's official chat template does.

  Args:
    family: one of FAMILIES.
    messages: dicts with "role" ("system", "user" or "assistant") and "content";
      an optional first system message, then user and assistant alternating,
      starting with user.
    add_generation_prompt: append the header that opens an assistant turn, for
      inference.

  Returns:
    Segments whose texts concatenate to the official template's output (BOS
    included). Neighbouring segments differ in `trainable`; the trainable ones
    are exactly each assistant turn's content and its end-of-turn token.

  Raises:
    UserInputError: unknown family or malformed conversation.
  """
  _check_family(family)
  _check_messages(messages)
  builder = _Builder()
  _RENDERERS[family](messages, add_generation_prompt, builder)
  return builder.segments


def render_text(family: str, messages: Sequence[Message],
                add_generation_prompt: bool = False) -> str:
  """The official template's output as one string (see `render`)."""
  return "".join(segment.text for segment in render(family, messages, add_generation_prompt))


def tokenize_conversation(family: str, messages: Sequence[Message],
                          encode: Callable[[str], list[int]],
                          add_generation_prompt: bool = False) -> tuple[list[int], list[int]]:
  """Token ids of a formatted conversation and the loss mask over them.

  The ids are always those of encoding the whole formatted text, i.e. what
  `apply_chat_template(..., tokenize=True)` gives with the official template.
  Segment boundaries sit right after a control token or a role header's newline,
  where tokenizers normally split, so each segment is encoded on its own and the
  pieces are checked against the whole. If a tokenizer does merge text across a
  boundary (e.g. Qwen's pre-tokenizer joins the header's newline with a reply that
  starts with a newline), each boundary is placed where encoding the text before
  it ends, so the merged token goes with the segment before it.

  Args:
    family: one of FAMILIES.
    messages: the conversation (see `render`).
    encode: text to ids WITHOUT added BOS/EOS, turning control-token text into the
      control tokens' ids (e.g. `HuggingFaceVocabulary.encode`, or
      `tokenizer.encode(text, add_special_tokens=False)`).
    add_generation_prompt: append the assistant header (see `render`).

  Returns:
    (ids, loss_mask), equally long; loss_mask is 1 exactly on the tokens of
    assistant contents and their end-of-turn tokens, 0 elsewhere.

  Raises:
    UserInputError: unknown family or malformed conversation.
  """
  segments = render(family, messages, add_generation_prompt)
  ids: list[int] = []
  loss_mask: list[int] = []
  for segment in segments:
    segment_ids = list(encode(segment.text))
    ids.extend(segment_ids)
    loss_mask.extend([int(segment.trainable)] * len(segment_ids))
  text = "".join(segment.text for segment in segments)
  whole = list(encode(text))
  if whole == ids:
    return ids, loss_mask
  # Rare: some token spans a boundary. Encoding prefixes costs one call per
  # segment, but keeps the ids identical to the official template's.
  loss_mask = [0] * len(whole)
  start = 0
  for segment in segments:
    end = start + len(segment.text)
    if segment.trainable:
      first = len(encode(text[:start]))
      last = len(encode(text[:end]))
      for index in range(first, min(last, len(whole))):
        loss_mask[index] = 1
    start = end
  return whole, loss_mask


def prompt_ids(family: str, messages: Sequence[Message],
               encode: Callable[[str], list[int]]) -> list[int]:
  """Token ids of an inference prompt: the conversation plus the assistant header.

  Args:
    family: one of FAMILIES.
    messages: the conversation so far, ending with a user message.
    encode: as for `tokenize_conversation`.

  Returns:
    The ids `apply_chat_template(messages, add_generation_prompt=True)` gives with
    the family's official template; the model's answer continues them.

  Raises:
    UserInputError: unknown family, malformed conversation, or a conversation
      that does not end with a user message.
  """
  _check_family(family)
  _check_messages(messages)
  if messages[-1]["role"] != "user":
    raise UserInputError(
        f"a prompt must end with a user message, not {messages[-1]['role']!r}")
  return list(encode(render_text(family, messages, add_generation_prompt=True)))


def reply_text(family: str | None, completion: str) -> str:
  """A decoded completion up to the family's STOP_TEXT (the completion itself for
  families that end turns with a token, and for plain prompts, family None)."""
  stop = STOP_TEXT.get(family) if family else None
  return completion if stop is None else completion.split(stop, 1)[0]
