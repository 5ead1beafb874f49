"""`translate`: a dataset's translated (or round-trip translated) copy, in the base's own layout.

The copy goes under `out_dir` exactly as the base's reader expects it under DATA_DIR, so
`out_dir = DATA_DIR/variants/<variant>/` is read by the variant task `<base>_<variant>`
(tasks/variants.py), e.g. `aya_dataset_translated_google`. Per dataset (layouts and fields
from tasks/formats/<name>.py, which cite the releases):

- aya_dataset (P2): data/<split>-00000-of-00001.parquet, the release's columns `inputs,
  targets, language, language_code, annotation_type, user_id`, plus `parallel_id` (the
  English row's number, which the reader accepts; null for a round trip, which translates
  no English row, so selection never pools it with one) and `translation` (provenance as
  JSON, with `source_row`; the reader reads only the columns it needs). `inputs` and `targets` are translated separately.
  Round trip (P2's RTT): each target language's native rows, into `pivot` and back.
- guanaco (P3): openassistant_best_replies_<train|eval>.jsonl, one {"text": "### Human: ...
  ### Assistant: ..."} per conversation with `lang` (the target code, which the reader maps),
  `parallel_id` (the English source line; none for a round trip) and `translation` (with
  `source_row`, the line translated); every turn translated separately.
- alpaca_eval (P3): alpaca_eval/alpaca_eval_instructions_<lang>.json, JSON Lines as P3's
  release ({"instruction"}, plus `translation`), parallel to the English list.
- alpaca_farm (P1): alpaca_farm/alpaca_farm_evaluation_<lang>.json, the official list's
  records with `instruction` and `input` translated, `dataset` kept (the reader drops the
  OASST-origin ones by it), `output` left out (an English reference is not a reference).
- lima_oasst (P1): lima_oasst/<lang>/train.jsonl, one {"parallel_id": <the English item's
  key>, "conversations": [prompt, reply], "translation"} per item of LIMA + OASST's English
  first turns (the reader's own layout; P1 never released its translations).
- mgsm (P0's pt/ko/ar): mgsm_translated/mgsm_<lang>.tsv (question translated, answer kept),
  exemplars.json (the English exemplars translated, merged into an existing file),
  TRANSLATION (the line the reader records as the translator); the TSV has no room for a
  field, so provenance is also in mgsm_translated/translation.json.

aya_dataset and guanaco keep every language in one file: rows of languages not being
translated now are kept from an existing copy, so `--to=es` then `--to=ru` adds up.

Every text goes through `translators.translate_texts` (protected spans masked and checked;
cached, so a rerun or a killed run repeats no request). Files are written atomically, once
their language is complete.
"""

import datetime
import json
import os
from collections.abc import Callable, Sequence

from tasks.formats import alpaca_eval as alpaca_eval_format
from tasks.formats import aya_dataset, guanaco, lima_oasst, mgsm_translated, rows
from tasks.formats.aya_evaluation import ISO_639_3
from xlt_jax.core import atomic_io, paths
from xlt_jax.core.errors import UserInputError
from xlt_jax.core.languages import LANGUAGES as LANGUAGE_NAMES
from xlt_jax.data import translators
from xlt_jax.evaluation import mgsm_format

DATASETS = ("aya_dataset", "guanaco", "alpaca_eval", "alpaca_farm", "lima_oasst", "mgsm")
ROUND_TRIP = ("aya_dataset", "guanaco")
_ISO_3 = {}
for _code3, _code in ISO_639_3.items():
  _ISO_3.setdefault(_code, _code3)


def provenance(engine: translators.Engine, source: str, method: str,
               date: str | None = None) -> dict:
  """The record every translated row carries: engine, model, prompt version, date, how."""
  stamp = date or datetime.date.today().isoformat()
  return {**translators.Provenance(engine.name, engine.model, engine.prompt_version,
                                   stamp).as_dict(),
          "source_language": source, "method": method}


def _both_ways(engine, texts: Sequence[str], source: str, target: str,
               round_trip: bool, pivot: str) -> list[str]:
  if not round_trip:
    return translators.translate_texts(engine, texts, source, target)
  english = translators.translate_texts(engine, texts, target, pivot)
  return translators.translate_texts(engine, english, pivot, target)


def _aya(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit, stamp):
  in_path = aya_dataset.path(data_dir, source, split)
  table = rows.read_parquet(rows.require_file(in_path, "Aya dataset"), aya_dataset.COLUMNS)
  records = table.select(["inputs", "targets", "language_code"]).to_pylist()
  out = {column: [] for column in (*aya_dataset.COLUMNS, "parallel_id", "translation")}
  for target in targets:
    wanted = target if round_trip else source
    numbered = [(n, r) for n, r in enumerate(records)
                if ISO_639_3.get(r["language_code"]) == wanted][:limit]
    if not numbered:
      raise UserInputError(f"{in_path} has no {wanted!r} rows to translate")
    texts = [r["inputs"].strip() for _, r in numbered] + [r["targets"].strip()
                                                          for _, r in numbered]
    done = _both_ways(engine, texts, source, target, round_trip, pivot)
    record = provenance(engine, pivot if round_trip else source,
                        "round_trip" if round_trip else "translated", stamp)
    for (number, _), inputs, answer in zip(numbered, done[:len(numbered)], done[len(numbered):]):
      for column, value in (("inputs", inputs), ("targets", answer),
                            ("language", LANGUAGE_NAMES[target][0]),
                            ("language_code", _ISO_3[target]),
                            ("annotation_type", "machine-translated"), ("user_id", ""),
                            ("parallel_id", None if round_trip else number),
                            ("translation", json.dumps({**record, "source_row": number}))):
        out[column].append(value)
  import pyarrow
  import pyarrow.parquet
  destination = aya_dataset.path(out_dir, targets[0], split)
  if paths.isfile(destination):  # keep the languages translated by an earlier run
    kept = [row for row in rows.read_parquet(destination, tuple(out)).select(list(out))
            .to_pylist() if ISO_639_3.get(row["language_code"]) not in targets]
    out = {column: [row[column] for row in kept] + values for column, values in out.items()}
  atomic_io.write_atomically(
      destination, lambda file: pyarrow.parquet.write_table(pyarrow.table(out), file), mode="wb")
  return {split: len(out["inputs"])}


def _guanaco(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit, stamp):
  lines = []
  for target in targets:
    origin = target if round_trip else source
    examples = guanaco.load(data_dir, origin, split, rows.DEFAULT_POLICY).examples[:limit]
    if not examples:
      raise UserInputError(f"guanaco {split} has no {origin!r} conversations to translate")
    conversations = [json.loads(example["conversation"]) for example in examples]
    texts = [turn["content"] for turns in conversations for turn in turns]
    done = iter(_both_ways(engine, texts, source, target, round_trip, pivot))
    record = provenance(engine, pivot if round_trip else source,
                        "round_trip" if round_trip else "translated", stamp)
    for example, turns in zip(examples, conversations):
      text = "".join(f"### {'Human' if turn['role'] == 'user' else 'Assistant'}: {next(done)}"
                     for turn in turns)
      line_number = int(example["id"].rsplit(":", 1)[1])
      lines.append({"text": text, "lang": target,
                    **({} if round_trip else {"parallel_id": line_number}),
                    "translation": {**record, "source_row": line_number}})
  destination = guanaco.path(out_dir, targets[0], split)
  if paths.isfile(destination):  # keep the languages translated by an earlier run
    with paths.open(destination, encoding="utf-8") as file:
      earlier = [json.loads(line) for line in file if line.strip()]
    lines = [line for line in earlier if line.get("lang") not in targets] + lines
  atomic_io.write_jsonl(destination, lines)
  return {split: len(lines)}


def _english_list(path: str, what: str) -> list[dict]:
  records = rows.read_json_list(rows.require_file(path, what), "instructions")
  if not all(isinstance(r, dict) and isinstance(r.get("instruction"), str) for r in records):
    raise UserInputError(f"{path}: every record needs an 'instruction' string")
  return records


def _alpaca_eval(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit,
                 stamp):
  del round_trip, pivot, split
  records = _english_list(alpaca_eval_format.path(data_dir, source, "test"), "AlpacaEval")[:limit]
  counts = {}
  for target in targets:
    done = translators.translate_texts(engine, [r["instruction"] for r in records], source,
                                       target)
    record = provenance(engine, source, "translated", stamp)
    atomic_io.write_jsonl(alpaca_eval_format.path(out_dir, target, "test"),
                          [{"instruction": text, "translation": record} for text in done])
    counts[target] = len(done)
  return counts


def _alpaca_farm(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit,
                 stamp):
  del round_trip, pivot, split
  records = _english_list(alpaca_eval_format.farm_path(data_dir, source, "test"),
                          "AlpacaFarm evaluation")[:limit]
  counts = {}
  for target in targets:
    texts = [r["instruction"] for r in records] + [r.get("input") or "" for r in records]
    done = translators.translate_texts(engine, texts, source, target)
    record = provenance(engine, source, "translated", stamp)
    translated = [{**{k: v for k, v in r.items() if k != "output"}, "instruction": instruction,
                   "input": given, "translation": record}
                  for r, instruction, given in zip(records, done[:len(records)],
                                                   done[len(records):])]
    atomic_io.write_json(alpaca_eval_format.farm_path(out_dir, target, "test"), translated)
    counts[target] = len(translated)
  return counts


def _lima_oasst(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit,
                stamp):
  del round_trip, pivot
  if source != "en":
    raise UserInputError("lima_oasst translates its English items (--from=en)")
  examples = lima_oasst.load(data_dir, "en", split, rows.DEFAULT_POLICY).examples[:limit]
  counts = {}
  for target in targets:
    done = translators.translate_texts(
        engine, [e["inputs"] for e in examples] + [e["targets"] for e in examples], source, target)
    record = provenance(engine, source, "translated", stamp)
    atomic_io.write_jsonl(lima_oasst.path(out_dir, target, split), [
        {"parallel_id": e["parallel_id"], "conversations": [prompt, reply], "translation": record}
        for e, prompt, reply in zip(examples, done[:len(examples)], done[len(examples):])])
    counts[target] = len(examples)
  return counts


def _mgsm(data_dir, out_dir, targets, engine, source, round_trip, pivot, split, limit, stamp):
  del round_trip, pivot, split
  unknown = [t for t in targets if t not in mgsm_translated.LANGUAGES]
  if unknown:
    raise UserInputError(f"mgsm translates into mgsm_translated's languages"
                         f" ({', '.join(mgsm_translated.LANGUAGES)}), not {', '.join(unknown)}")
  tsv = mgsm_format.read_mgsm_tsv(os.path.join(data_dir, "mgsm", f"mgsm_{source}.tsv"))[:limit]
  english = mgsm_format.read_exemplars(rows.require_file(
      os.path.join(data_dir, "mgsm", "exemplars.json"), "MGSM exemplars"))[source]
  root = os.path.join(out_dir, "mgsm_translated")
  exemplar_path = os.path.join(root, "exemplars.json")
  content = (json.loads(paths.read_text(exemplar_path)) if paths.isfile(exemplar_path)
             else {"MGSM_EXEMPLARS": {}})
  sidecar_path = os.path.join(root, "translation.json")
  sidecar = json.loads(paths.read_text(sidecar_path)) if paths.isfile(sidecar_path) else {}
  record = provenance(engine, source, "translated", stamp)
  for target in targets:
    texts = ([row.question for row in tsv] + [q for q, _ in english] + [a for _, a in english])
    done = translators.translate_texts(engine, texts, source, target)
    questions, shots = done[:len(tsv)], done[len(tsv):]
    lines = [" ".join(q.split()) + "\t" + row.answer for q, row in zip(questions, tsv)]
    atomic_io.write_text(mgsm_translated.path(out_dir, target, "test"), "\n".join(lines) + "\n")
    content["MGSM_EXEMPLARS"][target] = {
        number: {"q": shots[i], "a": shots[len(english) + i]}
        for i, number in enumerate(mgsm_format.EXEMPLAR_IDS[:len(english)])}
    sidecar[target] = record
  atomic_io.write_json(exemplar_path, content)
  atomic_io.write_json(sidecar_path, sidecar)
  model = f" ({engine.model})" if engine.model else ""
  atomic_io.write_text(os.path.join(root, "TRANSLATION"),
                       f"{engine.name}{model}, prompt {engine.prompt_version}, {record['date']},"
                       f" from mgsm_{source}.tsv\n")
  return {target: len(tsv) for target in targets}


_WRITERS: dict[str, Callable[..., dict]] = {
    "aya_dataset": _aya, "guanaco": _guanaco, "alpaca_eval": _alpaca_eval,
    "alpaca_farm": _alpaca_farm, "lima_oasst": _lima_oasst, "mgsm": _mgsm}
_SPLITS = {"aya_dataset": aya_dataset.SPLITS, "guanaco": guanaco.SPLITS,
           "lima_oasst": lima_oasst.SPLITS}


def translate_dataset(dataset: str, data_dir: str, out_dir: str, targets: Sequence[str],
                      engine: translators.Engine, *, source: str = "en",
                      round_trip: bool = False, splits: Sequence[str] | None = None,
                      limit: int | None = None, date: str | None = None) -> dict:
  """Writes `dataset`'s translation into each of `targets` under `out_dir` (its base layout).

  `round_trip`: each target's native rows into `source` (the pivot) and back. `limit`: the
  first N source rows only. `splits`: default the first of the dataset's (train). Returns {split or language: rows written}.

  Raises:
    UserInputError: an unknown dataset, a dataset without round trip, a missing input file.
    translators.TranslationFailed: texts that could not be translated (the rest are cached).
  """
  if dataset not in _WRITERS:
    raise UserInputError(f"translate knows {', '.join(DATASETS)}, not {dataset!r}")
  if round_trip and dataset not in ROUND_TRIP:
    raise UserInputError(f"--round_trip needs native rows: {', '.join(ROUND_TRIP)}, not"
                         f" {dataset}")
  if source in targets and not round_trip:
    raise UserInputError(f"--to includes the source language {source!r}")
  summary = {}
  for split in splits or _SPLITS.get(dataset, ("test",))[:1]:
    if dataset in _SPLITS and split not in _SPLITS[dataset]:
      raise UserInputError(f"{dataset} has splits {', '.join(_SPLITS[dataset])}, not {split!r}")
    summary.update(_WRITERS[dataset](data_dir, out_dir, tuple(targets), engine, source,
                                     round_trip, source, split, limit, date))
  return summary
