"""Tests for xlt_jax.models.chat_templates against the official Hugging Face chat templates.

For each family, a small byte-level BPE tokenizer whose added special tokens are
the family's control tokens is wrapped in transformers.PreTrainedTokenizerFast with
the family's official Jinja chat_template, and our ids must equal
apply_chat_template's, token for token.
"""

import pytest
import tokenizers
import transformers
from tokenizers import decoders, models, pre_tokenizers, trainers

from xlt_jax.core.errors import UserInputError
from xlt_jax.models import chat_templates

# Official chat templates, verbatim (Jinja source after JSON unescaping).

# CohereForAI Aya 23 (aya-23-8B / aya-23-35B) and c4ai-command-r-plus "default"
# template. Source: huggingface/huggingface.js, packages/ollama-utils chat-template
# automap, entry "library/aya:35b" (the template embedded in Aya 23's GGUF, taken
# from its tokenizer_config.json); the same text is the "CohereForAI/c4ai-command-r-plus"
# case of llama.cpp's tests/test-chat-template.cpp.
COHERE_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% elif false == true %}"
    "{% set loop_messages = messages %}{% set system_message = 'You are Command-R, a brilliant, "
    "sophisticated, AI-assistant trained to assist human users by providing thorough responses. "
    "You are trained by Cohere.' %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% if system_message != false %}"
    "{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}"
    "{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% set content = message['content'] %}{% if message['role'] == 'user' %}"
    "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}"
)

# meta-llama/Llama-3.1-8B-Instruct tokenizer_config.json "chat_template" (the 3.1
# version, whose date defaults to the fixed "26 Jul 2024"; Llama 3.2/3.3 call
# strftime_now instead). Source: verbatim copies in public GitHub files found by code
# search (a notes file quoting the "Normal LLama 3.1 instruct chat template", and a
# CHAT_TEMPLATES["llama31"] constant mapped to meta-llama/Llama-3.1-8B-Instruct, the
# same text apart from that project's own generation prompt suffix).
LLAMA31_TEMPLATE = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# Qwen/Qwen2.5-*-Instruct tokenizer_config.json "chat_template" (the same for every
# Qwen2.5 Instruct size). Source: the "Qwen/Qwen2.5-0.5B-Instruct" case of
# huggingface/swift-jinja's template tests. Qwen2.5 rather than Qwen3: plain ChatML,
# without Qwen3's <think> blocks.
QWEN25_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

# google/gemma-3-1b-it tokenizer_config.json "chat_template" (shared by the Gemma 3
# instruction-tuned checkpoints). Source: the tokenizer_config.json excerpt quoted in
# the Berkeley Function Calling Leaderboard's Gemma handler (bfcl model_handler
# local_inference), the same text as other copies labelled google/gemma-3-4b-it. (One
# GGUF conversion of gemma-3-1b-it carries a variant whose system prefix ends in a
# single "\n"; the Hugging Face tokenizer_config.json has "\n\n".)
GEMMA3_TEMPLATE = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""


# family: (template, bos token, end-of-turn token, control tokens). The control
# tokens are registered as special added tokens, as in the real tokenizers.
FAMILIES = {
    "cohere": (COHERE_TEMPLATE, "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", [
        "<PAD>", "<UNK>", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", "<|START_OF_TURN_TOKEN|>",
        "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>", "<|SYSTEM_TOKEN|>"]),
    "llama3": (LLAMA31_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>", [
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eot_id|>", "<|eom_id|>", "<|python_tag|>"]),
    "qwen": (QWEN25_TEMPLATE, None, "<|im_end|>", [
        "<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
    "gemma": (GEMMA3_TEMPLATE, "<bos>", "<end_of_turn>", [
        "<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
        "<start_of_image>"]),
}

TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu.",
    "敏捷的棕色狐狸跳过了懒狗。答案是 18。",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "তাড়াতাড়ি বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়।",
    "You are a helpful assistant.\nAnswer step by step.\n\nThe answer is 42.",
]

CONVERSATIONS = {
    "single_turn": [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "2 + 3 = 5. The answer is 5."},
    ],
    "multi_turn": [
        {"role": "user", "content": "Hello, how are you?"},
        {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
        {"role": "user", "content": "Janet's ducks lay 16 eggs per day."},
        {"role": "assistant", "content": "She sells 9 eggs.\nThe answer is 18."},
    ],
    "system": [
        {"role": "system", "content": "You are a helpful assistant. Answer step by step."},
        {"role": "user", "content": "Wie viele Beine hat ein Hund?"},
        {"role": "assistant", "content": "Ein Hund hat 4 Beine."},
    ],
    # Surrounding whitespace: most templates strip contents, Qwen's keeps them.
    "multilingual_whitespace": [
        {"role": "user", "content": "  Mbweha ana miguu mingapi?\n"},
        {"role": "assistant", "content": "\nMbweha ana miguu 4.  "},
        {"role": "user", "content": "敏捷的棕色狐狸跳过了几只狗？ "},
        {"role": "assistant", "content": " 一只。答案是 1。"},
        {"role": "user", "content": "তাড়াতাড়ি বাদামী শিয়াল?"},
    ],
    "prompt_only": [
        {"role": "user", "content": "Быстрая лиса: сколько будет 7 * 6?"},
    ],
    "system_prompt_only": [
        {"role": "system", "content": "  Réponds en français.  "},
        {"role": "user", "content": "Combien font 7 * 6 ?"},
    ],
}


def _build_tokenizer(family: str) -> transformers.PreTrainedTokenizerFast:
  template, bos_token, end_of_turn, control_tokens = FAMILIES[family]
  tokenizer = tokenizers.Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
      vocab_size=600, special_tokens=control_tokens,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
  tokenizer.train_from_iterator(TRAINING_TEXT, trainer=trainer)
  return transformers.PreTrainedTokenizerFast(
      tokenizer_object=tokenizer, bos_token=bos_token, eos_token=end_of_turn,
      chat_template=template)


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_and_tokenizer(request) -> tuple[str, transformers.PreTrainedTokenizerFast]:
  return request.param, _build_tokenizer(request.param)


def _official_ids(tokenizer, messages, add_generation_prompt: bool) -> list[int]:
  result = tokenizer.apply_chat_template(
      messages, tokenize=True, add_generation_prompt=add_generation_prompt)
  if not isinstance(result, list):  # transformers 5 returns a BatchEncoding
    result = result["input_ids"]
  return list(result)


def _encoder(tokenizer):
  return lambda text: tokenizer.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_ids_match_the_official_template(family_and_tokenizer, name, add_generation_prompt):
  family, tokenizer = family_and_tokenizer
  messages = CONVERSATIONS[name]
  expected_text = tokenizer.apply_chat_template(
      messages, tokenize=False, add_generation_prompt=add_generation_prompt)
  assert chat_templates.render_text(family, messages, add_generation_prompt) == expected_text
  ids, loss_mask = chat_templates.tokenize_conversation(
      family, messages, _encoder(tokenizer), add_generation_prompt=add_generation_prompt)
  assert ids == _official_ids(tokenizer, messages, add_generation_prompt)
  assert len(loss_mask) == len(ids)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_loss_mask_covers_assistant_content_and_end_of_turn(family_and_tokenizer, name):
  family, tokenizer = family_and_tokenizer
  messages = CONVERSATIONS[name]
  encode = _encoder(tokenizer)
  end_of_turn = chat_templates.END_OF_TURN[family]
  end_of_turn_id = tokenizer.convert_tokens_to_ids(end_of_turn)
  ids, loss_mask = chat_templates.tokenize_conversation(family, messages, encode)
  assert set(loss_mask) <= {0, 1}

  # The masked tokens, run by run, are exactly each assistant turn's content (as
  # the template writes it) followed by its end-of-turn token.
  runs, current = [], []
  for token, mask in zip(ids, loss_mask):
    if mask:
      current.append(token)
    elif current:
      runs.append(current)
      current = []
  if current:
    runs.append(current)
  assistant_contents = [m["content"] for m in messages if m["role"] == "assistant"]
  strip = family != "qwen"
  expected_runs = [encode((c.strip() if strip else c) + end_of_turn) for c in assistant_contents]
  assert runs == expected_runs
  assert all(run[-1] == end_of_turn_id for run in runs)
  # Every end-of-turn token of an assistant turn is masked in; those of user and
  # system turns are not.
  assert sum(1 for t, m in zip(ids, loss_mask) if t == end_of_turn_id and m) == len(runs)


@pytest.mark.parametrize("name", ["multilingual_whitespace", "prompt_only", "system_prompt_only"])
def test_prompt_ids_match_the_generation_prompt(family_and_tokenizer, name):
  family, tokenizer = family_and_tokenizer
  messages = CONVERSATIONS[name]
  assert chat_templates.prompt_ids(family, messages, _encoder(tokenizer)) == (
      _official_ids(tokenizer, messages, add_generation_prompt=True))


def test_a_prompt_must_end_with_a_user_turn():
  with pytest.raises(UserInputError, match="must end with a user message"):
    chat_templates.prompt_ids("qwen", CONVERSATIONS["single_turn"], lambda text: [])


def test_segments_alternate_and_concatenate_to_the_text():
  segments = chat_templates.render("gemma", CONVERSATIONS["system"])
  assert [segment.trainable for segment in segments] == [False, True, False]
  assert segments[1].text == "Ein Hund hat 4 Beine.<end_of_turn>"
  assert segments[0].text == (
      "<bos><start_of_turn>user\nYou are a helpful assistant. Answer step by step.\n\n"
      "Wie viele Beine hat ein Hund?<end_of_turn>\n<start_of_turn>model\n")
  assert segments[2].text == "\n"


def test_llama3_writes_the_fixed_date_header_without_a_system_message():
  text = chat_templates.render_text("llama3", CONVERSATIONS["prompt_only"], True)
  assert text.startswith(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
      "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>")


def test_unknown_family_is_named():
  with pytest.raises(UserInputError, match="'mistral'"):
    chat_templates.render("mistral", CONVERSATIONS["single_turn"])
  with pytest.raises(UserInputError, match="'mistral'"):
    chat_templates.tokenize_conversation("mistral", CONVERSATIONS["single_turn"], lambda t: [])


@pytest.mark.parametrize("messages", [
    [],
    [{"role": "assistant", "content": "Hi"}],
    [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}],
    [{"role": "user", "content": 3}],
    [{"role": "tool", "content": "x"}],
])
def test_malformed_conversations_are_user_input_errors(messages):
  with pytest.raises(UserInputError):
    chat_templates.render("cohere", messages)


def test_official_templates_reject_what_we_reject():
  # Cohere and Gemma's templates raise on non-alternating roles too.
  messages = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
  for family in ("cohere", "gemma"):
    with pytest.raises(Exception, match="alternate"):
      _build_tokenizer(family).apply_chat_template(messages, tokenize=False)


def test_a_tokenizer_merging_across_turn_boundaries_still_gets_the_official_ids():
  # Byte-level BPE without its splitting regex, trained so that "\n\n" and "\nThe"
  # merge: the header's newline and the reply's leading newline become one token.
  template, _, end_of_turn, control_tokens = FAMILIES["qwen"]
  tokenizer = tokenizers.Tokenizer(models.BPE())
  tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
  tokenizer.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
      vocab_size=400, special_tokens=control_tokens,
      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
  tokenizer.train_from_iterator(["\n\nThe answer.\n\nThe end.\n\nThe"] * 20, trainer=trainer)
  wrapped = transformers.PreTrainedTokenizerFast(
      tokenizer_object=tokenizer, eos_token=end_of_turn, chat_template=template)
  messages = [{"role": "user", "content": "The question."},
              {"role": "assistant", "content": "\nThe answer."}]
  encode = _encoder(wrapped)
  ids, loss_mask = chat_templates.tokenize_conversation("qwen", messages, encode)
  assert ids == _official_ids(wrapped, messages, add_generation_prompt=False)
  separately = sum((encode(s.text) for s in chat_templates.render("qwen", messages)), [])
  assert separately != ids  # the case under test really happens
  # One run of ones, ending on <|im_end|>: the boundary is placed where encoding
  # the text before the reply ends, so a token spanning it stays untrained.
  first = loss_mask.index(1)
  last = len(loss_mask) - 1 - loss_mask[::-1].index(1)
  assert loss_mask[first:last + 1] == [1] * (last - first + 1)
  assert ids[last] == wrapped.convert_tokens_to_ids(end_of_turn)
  assert wrapped.decode(ids[first:last + 1]).endswith(".<|im_end|>")
  assert loss_mask[-1] == 0  # the newline after <|im_end|>


# The Guanaco format (P3), which has no Jinja chat template. References: the first row
# of timdettmers/openassistant-guanaco's `text` as the dataset viewer shows it (public
# copies quote it verbatim; its long reply is cut here after the first sentence), and
# P3's prompt file, ZurichNLP/multilingual-instruction-tuning prompts/guanaco_prompt.txt.
GUANACO_FIRST_ROW = (
    '### Human: Can you write a short introduction about the relevance of the term'
    ' "monopsony" in economics? Please use examples related to potential monopsonies in'
    ' the labour market and cite relevant research.### Assistant: "Monopsony" refers to a'
    ' market structure where there is only one buyer for a particular good or service.'
    '### Human: Now explain it to a dog')
GUANACO_PROMPT_FILE = "### Human: {{ instruction }}### Assistant:"


def _guanaco_messages(text: str) -> list[dict]:
  """A Guanaco `text` split into turns, the way P3's data is read (each `### Human: `
  and `### Assistant: ` header opens a turn)."""
  import re
  parts = re.split(r"### (Human|Assistant): ", text)[1:]
  return [{"role": "user" if role == "Human" else "assistant", "content": content}
          for role, content in zip(parts[0::2], parts[1::2])]


def test_guanaco_renders_the_dataset_text():
  messages = _guanaco_messages(GUANACO_FIRST_ROW)
  assert [m["role"] for m in messages] == ["user", "assistant", "user"]
  assert chat_templates.render_text("guanaco", messages) == GUANACO_FIRST_ROW


@pytest.mark.parametrize("instruction", [
    "Write a haiku about autumn.", "Schreibe ein Gedicht über den Herbst.",
    "  写一首关于秋天的诗。\n"])
def test_guanaco_prompt_is_p3s_prompt_file(instruction):
  import jinja2
  expected = jinja2.Template(GUANACO_PROMPT_FILE).render(instruction=instruction)
  messages = [{"role": "user", "content": instruction}]
  assert chat_templates.render_text("guanaco", messages, add_generation_prompt=True) == expected
  tokenizer = _build_tokenizer("gemma")  # any byte-level BPE: the format has no control token
  encode = _encoder(tokenizer)
  assert chat_templates.prompt_ids("guanaco", messages, encode) == encode(expected)


def test_guanaco_loss_mask_covers_each_reply_with_its_leading_space():
  tokenizer = _build_tokenizer("gemma")
  encode = _encoder(tokenizer)
  messages = CONVERSATIONS["multi_turn"]
  ids, loss_mask = chat_templates.tokenize_conversation("guanaco", messages, encode)
  text = chat_templates.render_text("guanaco", messages)
  assert ids == encode(text)
  assert text == ("### Human: Hello, how are you?### Assistant: I'm doing great. How can I"
                  " help you today?### Human: Janet's ducks lay 16 eggs per day.### Assistant:"
                  " She sells 9 eggs.\nThe answer is 18.")
  trained = tokenizer.decode([token for token, mask in zip(ids, loss_mask) if mask])
  assert trained == (" I'm doing great. How can I help you today?"
                     " She sells 9 eggs.\nThe answer is 18.")
  assert chat_templates.END_OF_TURN["guanaco"] is None
  # Decoding stops at EOS only; the reply is cut where the next turn would begin.
  assert chat_templates.reply_text("guanaco", " 18.### Human: And 5?### Assistant: 7") == " 18."
  assert chat_templates.reply_text("qwen", " 18.### Human:") == " 18.### Human:"
  assert chat_templates.reply_text(None, "18") == "18"


def test_guanaco_refuses_a_system_message():
  with pytest.raises(UserInputError, match="guanaco chat format has no system role"):
    chat_templates.render("guanaco", CONVERSATIONS["system"])
