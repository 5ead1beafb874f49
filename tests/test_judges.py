"""The judges through a real HTTP server on loopback (tests/openai_stub_server.py) answering
with canned judge replies: parsing, re-asks, the wrong-language rule, P1's order swap,
per-language summaries derived by hand, reruns from the cache, and P1's human agreement."""

import collections
import csv
import dataclasses
import hashlib
import io
import json
import pathlib
import re

import pytest
from openai_stub_server import StubChatServer

from xlt_jax.core.errors import DataFormatError, UserInputError
from xlt_jax.evaluation.judges import human_ratings, parsing, prompts
from xlt_jax.evaluation.judges.protocols import JudgeConfig
from xlt_jax.evaluation.judges.run import join_reference, judge_predictions, judge_with_models, write_results
from xlt_jax.services.chat_client import ChatClient
from xlt_jax.services.config import ChatServiceConfig

SPANISH = "La capital de Francia es París, una ciudad muy bonita y famosa."
ENGLISH_FOR_SPANISH = "The capital of France is Paris, a very beautiful and famous city."
FRENCH = "Le chat dort sur le canapé depuis ce matin."


class CannedJudge:
  """Answers each distinct judge prompt with its list of replies, one per time it is asked
  (the last one repeated), chosen by a marker (`#...`, which no prompt template holds) in the
  response being judged."""

  def __init__(self, replies: dict[str, list[str]]):
    self.replies = replies
    self.asked = collections.Counter()

  def __call__(self, body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    marker = next(marker for marker in self.replies if marker in prompt)
    replies = self.replies[marker]
    self.asked[prompt] += 1
    return replies[min(self.asked[prompt], len(replies)) - 1]


def client_for(server: StubChatServer, cache_dir, model: str = "judge",
               max_concurrency: int = 8) -> ChatClient:
  return ChatClient(ChatServiceConfig(base_url=server.url, model=model, api_key_env="",
                                      cache_dir=str(cache_dir), initial_backoff_s=0.01,
                                      max_concurrency=max_concurrency), "unused")


def record(item_id: str, language: str, prediction: str, **extra) -> dict:
  return {"id": item_id, "language": language, "prompt": f"Pregunta {item_id}",
          "prediction": prediction, **extra}


def test_prompts_are_the_papers_text():
  # SHA-256 of the texts copied from papers.md (P0-P2) and ZurichNLP's llm_judge.py (P3):
  # any edit to a prompt must come with a new version string and a new digest here.
  digests = {"P0_TEMPLATE": "ca61bbfba4de2d026829999d0045d0d3504e528508a6d269ed931a8100ec4fd8",
             "P1_TEMPLATE": "341884468fa5dc8e504d289a216227e83354119af31681d4c4377334628a02f4",
             "P2_TEMPLATE": "60150a7f24edc73241303374112d5f81a91c010249e7adb187b1d62495eefec7",
             "P3_TEMPLATE": prompts.P3_TEMPLATE_SHA256}
  for name, digest in digests.items():
    assert hashlib.sha256(getattr(prompts, name).encode()).hexdigest() == digest, name
  (message,) = prompts.p0_messages("Explain {generation} please", "Una respuesta.")
  assert message["content"].endswith(
      "[Question]\nExplain {generation} please\n\n[The Start of Assistant's Answer]\n"
      "Una respuesta.\n[The End of Assistant's Answer]")
  system, user = prompts.p3_messages("Task {x}", "Answer")
  assert system == {"role": "system", "content": "You are an expert language evaluator."}
  assert "[Task]: Task {x} \n***\n[Submission]: Answer\n***" in user["content"]
  assert user["content"].endswith('{"reasoning": str, "score": int}\n\n')


def test_reply_parsing():
  assert parsing.bracket_rating("Good answer. Rating: [[4]]") == 4.0
  assert parsing.bracket_rating("[[4.5]]") == 4.5
  assert parsing.bracket_rating("Rating: [3]") == 3.0  # FastChat's backup pattern
  assert parsing.bracket_rating("first [[2]], then [[5]]") == 2.0  # the first, as FastChat
  for reply in ("[[7]]", "[[0]]", "Rating: 4", ""):
    assert parsing.bracket_rating(reply) is None
  assert parsing.explanation("Fluent and correct. Rating: [[4]]") == "Fluent and correct."
  for reply, choice in (("1", 1), (" 2\n", 2), ("'1'", 1), ("Answer2", 2), ("2.", 2)):
    assert parsing.single_digit_choice(reply) == choice
  for reply in ("12", "1 or 2", "Answer1 is better", "3", ""):
    assert parsing.single_digit_choice(reply) is None
  assert parsing.likert_json('{"reasoning": "clear", "score": 5}') == (5, "clear")
  assert parsing.likert_json('```json\n{"reasoning": "ok", "score": 6}\n```') == (6, "ok")
  for reply in ('{"reasoning": "x", "score": 7}', '{"score": 2.5}', '{"score": true}',
                "score: 5", "[5]"):
    assert parsing.likert_json(reply) is None


def test_p0_pointwise_switch_aware(tmp_path):
  judge = CannedJudge({
      "#ok-es": ["The answer is correct and fluent. Rating: [[4]]"],
      "#reask": ["I would rather not say.", "On reflection: Rating: [[2]]"],
      "#never": ["No verdict.", "Still no verdict."],
      "#short": ["Rating: [3]"],
      "#ok-fr": ["Rating: [[5]]"],
  })
  predictions = [
      record("a", "es", SPANISH + " #ok-es"),
      record("b", "es", SPANISH + " #reask"),
      record("c", "es", SPANISH + " #never"),
      record("d", "es", ENGLISH_FOR_SPANISH + " #ok-es"),  # wrong language: 1, judge not asked
      record("e", "es", "Sí. #short"),  # too short for a counted line: judged, not overridden
      record("f", "fr", FRENCH + " #ok-fr"),
  ]
  with StubChatServer(reply=judge) as server:
    results = judge_predictions(predictions, JudgeConfig("p0_pointwise"),
                                client_for(server, tmp_path))
    hits = len(server.hits)
    # Requests: a 1, b 2 (re-asked once), c 2 (re-asked once, then counted), e 1, f 1.
    assert hits == 7
    items = {item["id"]: item for item in results.items}
    assert [items[i]["status"] for i in "abcdef"] == [
        "scored", "scored", "unparsable", "wrong_language", "scored", "scored"]
    assert [items[i]["score"] for i in "abcdef"] == [4.0, 2.0, None, 1.0, 3.0, 5.0]
    assert [items[i]["language_pass"] for i in "abcdef"] == [True, True, True, False, None, True]
    assert items["b"]["replies"] == ["I would rather not say.", "On reflection: Rating: [[2]]"]
    assert items["c"]["replies"] == ["No verdict.", "Still no verdict."]
    assert items["d"]["replies"] == [] and items["d"]["rating"] is None
    assert items["a"]["explanation"] == "The answer is correct and fluent."
    # es: scored a 4, b 2, d 1, e 3 -> sum 10, mean 2.5; c unparsable; d wrong language.
    assert results.summary == {
        "es": {"items": 5, "scored": 4, "unparsable": 1, "request_failed": 0, "mean": 2.5,
               "sum": 10.0, "wrong_language": 1},
        "fr": {"items": 1, "scored": 1, "unparsable": 0, "request_failed": 0, "mean": 5.0,
               "sum": 5.0, "wrong_language": 0}}
    assert all(hit["body"]["temperature"] == 0.0 for hit in server.hits)
    assert any(hit["body"]["messages"] == prompts.p0_messages("Pregunta a", SPANISH + " #ok-es")
               for hit in server.hits)

    # A rerun asks nothing and gives the same verdicts, raw replies included.
    again = judge_predictions(predictions, JudgeConfig("p0_pointwise"),
                              client_for(server, tmp_path))
    assert len(server.hits) == hits
    assert again.items == results.items and again.usage["cache_hits"] == 7

    # With the rule off, the English response is judged like any other.
    off = judge_predictions(predictions, JudgeConfig("p0_pointwise", switch_aware=False),
                            client_for(server, tmp_path))
    assert len(server.hits) == hits + 1
    assert {item["id"]: item["score"] for item in off.items}["d"] == 4.0

  path = write_results(str(tmp_path / "eval"), results)
  rows = [json.loads(line) for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines()]
  assert [row["replies"] for row in rows] == [item["replies"] for item in results.items]
  assert rows[0]["prompt_version"] == prompts.P0_VERSION
  summary = json.loads(pathlib.Path(path.replace(".jsonl", ".summary.json")).read_text(encoding="utf-8"))
  assert summary["summary"] == results.summary and summary["judge_model"] == "judge"


def _p1_judge(body: dict) -> str:
  """Chooses by the marker in the response shown as Answer1, as a judge with each habit would."""
  prompt = body["messages"][-1]["content"]
  answer1 = re.search(r"Answer1:\n(.*)\nAnswer2:", prompt, re.DOTALL).group(1)
  if "always-first" in prompt:
    return "1"  # position bias: a different answer in each order -> tie
  if "babble" in prompt:
    return "Answer1 is better because it is longer."
  ours_first = "OURS" in answer1
  if "ours-better" in prompt:
    return "1" if ours_first else "2"
  return "2" if ours_first else "1"  # "theirs-better"


def test_p1_side_by_side_in_both_orders(tmp_path):
  ours = [record("w", "es", "OURS ours-better"), record("t", "es", "OURS always-first"),
          record("l", "es", "OURS theirs-better"), record("u", "es", "OURS babble"),
          record("w2", "fr", "OURS ours-better")]
  reference = [{"id": item["id"], "prediction": f"THEIRS {item['prediction'].split()[1]}"}
               for item in ours]
  # A model against itself (P1's diagonal) shows the same two answers in both orders: asked
  # once, and a tie whatever the judge says.
  itself = record("s", "de", "OURS always-first", reference_prediction="OURS always-first")
  predictions = [*join_reference(ours, reference), itself]
  with StubChatServer(reply=_p1_judge) as server:
    results = judge_predictions(predictions, JudgeConfig("p1_pairwise"),
                                client_for(server, tmp_path))
    # Two orders per item, the unparsable item's two orders asked once more each, and one
    # request for the self-comparison.
    assert len(server.hits) == 2 * 5 + 2 + 1
    prompts_w = [hit["body"]["messages"][0]["content"] for hit in server.hits
                 if "The instruction:\nPregunta w\n" in hit["body"]["messages"][0]["content"]]
    assert sorted(re.search(r"Answer1:\n(\S+)", prompt).group(1) for prompt in prompts_w) == [
        "OURS", "THEIRS"]
    assert all(hit["body"]["max_tokens"] == 4 for hit in server.hits)
  items = {item["id"]: item for item in results.items}
  assert [items[i]["verdict"] for i in ("w", "t", "l", "u", "w2")] == [
      "win", "tie", "loss", None, "win"]
  assert (items["t"]["choice_model_first"], items["t"]["choice_model_second"]) == (1, 1)
  assert items["u"]["status"] == "unparsable" and len(items["u"]["replies_model_first"]) == 2
  # es: win 1 + tie 0.5 + loss 0 over 3 scored items = 50%; fr: one win = 100%.
  assert results.summary["es"] == {"items": 4, "scored": 3, "unparsable": 1,
                                   "request_failed": 0, "wins": 1, "ties": 1, "losses": 1,
                                   "score_percent": 50.0}
  assert results.summary["fr"]["score_percent"] == 100.0
  assert (items["s"]["verdict"], results.summary["de"]["score_percent"]) == ("tie", 50.0)
  with pytest.raises(UserInputError, match="reference predictions have no item 'w'"):
    join_reference(ours, reference[1:])
  with pytest.raises(UserInputError, match="reference_prediction"):
    judge_predictions(ours, JudgeConfig("p1_pairwise"), client_for(server, tmp_path))
  with pytest.raises(UserInputError, match="switch_aware"):
    judge_predictions(predictions, JudgeConfig("p1_pairwise", switch_aware=True),
                      client_for(server, tmp_path))


def test_p2_sums_with_two_judge_models(tmp_path):
  def reply(body: dict) -> str:
    rating = {"gpt-4-turbo": 5, "command-r-plus": 3}[body["model"]]
    bonus = 1 if "better" in body["messages"][-1]["content"] else 0
    return f"Brief explanation. Rating: [[{rating - bonus}]]"

  predictions = [record(str(i), "es", ENGLISH_FOR_SPANISH + (" better" if i < 2 else ""))
                 for i in range(5)]
  with StubChatServer(reply=reply) as server:
    clients = [client_for(server, tmp_path, "gpt-4-turbo"),
               client_for(server, tmp_path, "command-r-plus")]
    results = judge_with_models(predictions, JudgeConfig("p2_pointwise"), clients)
    assert len(server.hits) == 10  # no language rule in P2: every response judged
  # GPT-4-Turbo: 4 + 4 + 5 + 5 + 5 = 23; Command R+: 2 + 2 + 3 + 3 + 3 = 13.
  assert results["gpt-4-turbo"].summary["es"]["sum"] == 23.0
  assert results["command-r-plus"].summary["es"]["sum"] == 13.0
  assert not results["gpt-4-turbo"].switch_aware
  assert any("[User Instruction]\nPregunta 0\n\n[Response]\nThe capital" in
             hit["body"]["messages"][0]["content"] for hit in server.hits)


def test_p3_likert_with_the_language_override(tmp_path):
  judge = CannedJudge({"#good": ['{"reasoning": "Clear, with headings.", "score": 6}'],
                       "#fenced": ['```json\n{"reasoning": "Partial.", "score": 2}\n```'],
                       "#off-scale": ['{"reasoning": "Superb.", "score": 9}']})
  predictions = [record("g", "es", SPANISH + " #good"), record("f", "es", SPANISH + " #fenced"),
                 record("o", "es", SPANISH + " #off-scale"),
                 record("w", "es", ENGLISH_FOR_SPANISH + " #good")]
  with StubChatServer(reply=judge) as server:
    results = judge_predictions(predictions, JudgeConfig("p3_likert"),
                                client_for(server, tmp_path))
    assert len(server.hits) == 4  # g, f, o twice (off the scale: re-asked once); w not asked
    body = server.hits[0]["body"]
    assert (body["seed"], body["temperature"], body["response_format"]) == (
        42, 0.0, {"type": "json_object"})
    assert body["messages"][0]["content"] == prompts.P3_SYSTEM
  assert [item["score"] for item in results.items] == [6.0, 2.0, None, 1.0]
  assert results.items[0]["explanation"] == "Clear, with headings."
  # es: 6 + 2 + 1 over 3 scored = 3.0.
  assert results.summary["es"]["mean"] == 3.0 and results.summary["es"]["unparsable"] == 1


def test_a_reply_without_a_rating_is_asked_again_once(tmp_path):
  with StubChatServer(reply=lambda body: "Fine. Rating: [[4]]") as server:
    # Item x: the first reply has no [[n]], the re-ask has one. Item y: neither has one.
    server.faults.extend([("content", "Looks fine to me."), ("content", "No idea."), ("none",),
                          ("content", "Still no idea.")])
    results = judge_predictions([record("x", "es", SPANISH), record("y", "es", SPANISH + "!")],
                                JudgeConfig("p2_pointwise"), client_for(server, tmp_path,
                                                                        max_concurrency=1))
    assert server.prompts() == [prompts.p2_messages("Pregunta x", SPANISH)[0]["content"],
                                prompts.p2_messages("Pregunta y", SPANISH + "!")[0]["content"]] * 2
  x, y = results.items
  assert (x["status"], x["score"], x["replies"]) == (
      "scored", 4.0, ["Looks fine to me.", "Fine. Rating: [[4]]"])
  assert (y["status"], y["score"], y["replies"]) == (
      "unparsable", None, ["No idea.", "Still no idea."])
  assert results.summary["es"] == {"items": 2, "scored": 1, "unparsable": 1, "request_failed": 0,
                                   "mean": 4.0, "sum": 4.0, "wrong_language": 0}


def test_a_failed_request_is_counted_not_scored(tmp_path):
  with StubChatServer(reply=lambda body: "Rating: [[4]]") as server:
    server.faults.append(("status", 400))
    results = judge_predictions([record("x", "es", SPANISH), record("y", "es", SPANISH + "!")],
                                JudgeConfig("p2_pointwise"), client_for(server, tmp_path,
                                                                        max_concurrency=1))
  assert [item["status"] for item in results.items] == ["request_failed", "scored"]
  assert "400" in results.items[0]["error"]
  assert results.summary["es"]["request_failed"] == 1 and results.summary["es"]["sum"] == 4.0


def test_bad_judge_config_and_records(tmp_path):
  with StubChatServer() as server:
    client = client_for(server, tmp_path)
    with pytest.raises(UserInputError, match="unknown judge protocol 'p9'"):
      judge_predictions([], JudgeConfig("p9"), client)
    with pytest.raises(UserInputError, match="prediction 0 .* prediction"):
      judge_predictions([{"id": "1", "language": "es", "prompt": "p"}],
                        JudgeConfig("p2_pointwise"), client)
    assert not server.hits


def test_human_ratings_round_trip_and_agreement(tmp_path):
  items = [record(i, language, f"ours {i}", reference_prediction=f"theirs {i}")
           for i, language in (("a", "en"), ("b", "en"), ("c", "es"), ("d", "es"))]
  path = str(tmp_path / "annotate.csv")
  human_ratings.export_for_annotators(items, path, seed=3)
  key = json.loads(pathlib.Path(human_ratings.key_path(path)).read_text(encoding="utf-8"))
  with open(path, encoding="utf-8", newline="") as file:
    rows = list(csv.DictReader(file))
  assert [row["instruction"] for row in rows] == ["Pregunta a", "Pregunta b", "Pregunta c",
                                                  "Pregunta d"]
  for row in rows:  # the key says where ours is
    assert row[f"response_{key['model_position'][row['id']]}"] == f"ours {row['id']}"
  assert len(set(key["model_position"].values())) == 2  # both orders occur with this seed

  # The annotator prefers ours on a, theirs on b and c, and calls d a tie.
  wanted = {"a": "model", "b": "reference", "c": "reference", "d": "tie"}
  for row in rows:
    position = key["model_position"][row["id"]]
    row["choice"] = {"model": str(position), "reference": str(3 - position),
                     "tie": "Tie"}[wanted[row["id"]]]
  with open(path, "w", encoding="utf-8", newline="") as file:
    writer = csv.DictWriter(file, human_ratings.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
  human = human_ratings.read_choices(path)
  assert human == wanted

  judge_items = [{"id": "a", "verdict": "win"}, {"id": "b", "verdict": "tie"},
                 {"id": "c", "verdict": "win"}, {"id": "d", "verdict": "loss"},
                 {"id": "e", "verdict": None}]
  judge = human_ratings.judge_choices(judge_items)
  assert judge == {"a": "model", "b": "tie", "c": "model", "d": "reference"}
  # Per item: a agree 1; b one tie 0.5; c disagree 0; d one tie 0.5.
  # en (a, b): (1 + 0.5) / 2 = 75%; es (c, d): (0 + 0.5) / 2 = 25%.
  languages = {item["id"]: item["language"] for item in items}
  assert human_ratings.agreement_by_language(judge, human, languages) == {
      "en": {"items": 2, "agreement_percent": 75.0},
      "es": {"items": 2, "agreement_percent": 25.0}}
  assert human_ratings.agreement("tie", "tie") == 1.0

  rows[2]["choice"] = "maybe"
  with open(path, "w", encoding="utf-8", newline="") as file:
    writer = csv.DictWriter(file, human_ratings.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
  with pytest.raises(DataFormatError, match=r"annotate.csv:4: choice must be 1, 2 or tie"):
    human_ratings.read_choices(path)


def test_judge_files_hold_no_api_key(tmp_path):
  secret = "sk-judge-" + "7f3a9c" * 4
  service = ChatServiceConfig(base_url="", model="judge", api_key_env="XLT_TEST_KEY",
                              cache_dir=str(tmp_path / "cache"))
  report = io.StringIO()
  with StubChatServer(reply=lambda body: "Rating: [[3]]") as server:
    service = dataclasses.replace(service, base_url=server.url)
    with ChatClient.from_environment(service, environ={"XLT_TEST_KEY": secret},
                                     report_to=report) as client:
      results = judge_predictions([record("x", "es", SPANISH), record("y", "es", FRENCH)],
                                  JudgeConfig("p2_pointwise"), client)
    assert {hit["authorization"] for hit in server.hits} == {f"Bearer {secret}"}
  write_results(str(tmp_path / "eval"), results)
  files = [path for path in tmp_path.rglob("*") if path.is_file()]
  assert len(files) == 4  # two cache entries, the items and the summary
  for text in [path.read_text(encoding="utf-8") for path in files] + [report.getvalue()]:
    assert secret not in text
