"""What `python -m xlt_jax.plan` compiles besides the full train step: the evaluation's
decoding and log-likelihood scoring, a base checkpoint's own architecture, and the LoRA
step (libtpu, v5e:2x2)."""

import json

import pytest

from xlt_jax import plan
from xlt_jax.evaluation import engine

# gin/smoke_cpu.gin's tiny model (2 layers, 4 heads, 2 kv heads of 8) on a 2x2 v5e slice:
# batch split over fsdp 2, heads over tensor 2.
TINY = ["--gin_file=gin/smoke_cpu.gin", "--topology=v5e:2x2", "--skip_flops",
        "--gin.MeshConfig.data=1", "--gin.MeshConfig.fsdp=2", "--gin.MeshConfig.tensor=2",
        "--gin.TrainConfig.inputs_length=56", "--gin.TrainConfig.targets_length=8"]
# Decoding: 8 prompts, max_length 256, smoke_cpu's 8 new tokens per prompt.
EVALUATION = ["--gin.EvaluationConfig.max_length=256", "--gin.EvaluationConfig.batch_size=8"]


def _plan(tmp_path, arguments, name="plan.json") -> tuple[int, dict]:
  output = tmp_path / name
  status = plan.main([*arguments, f"--output={output}"])
  return status, json.loads(output.read_text()) if output.exists() else {}


def test_the_evaluation_decoding_is_planned_at_the_engines_longest_batch(tmp_path, capsys):
  status, record = _plan(tmp_path, [*TINY, *EVALUATION])
  printed = capsys.readouterr().out
  assert status == 0 and printed.splitlines()[-1] == "FITS" and record["fits"]
  evaluation = record["evaluation"]
  # A prompt may have 256 - 8 tokens; the engine pads that batch to its 64-token bucket.
  assert engine.padded_length(248, engine.LENGTH_BUCKET, 256) == 256
  assert evaluation["shape"] == {"task": "demo_arith", "batch_size": 8, "prompt_length": 256,
                                 "max_new_tokens": 8}
  assert "evaluation      decoding batch 8 x (256 prompt + 8 new) tokens" in printed
  # [2, layers 2, batch 8 / 2 shards, 264 positions, kv heads 2 / 2, head_dim 8], at 2 or 4
  # bytes an element: the cache is split over the batch shards and the tensor axis.
  elements = 2 * 2 * 4 * 264 * 1 * 8
  assert evaluation["kv_cache_bytes"] in (2 * elements, 4 * elements)
  assert evaluation["kv_cache_bytes"] <= evaluation["temporary_bytes"]
  # The parameters are held as training holds them (float32, sharded by the same rules).
  assert evaluation["param_dtype"] == "float32"
  assert evaluation["parameter_bytes"] == record["step"]["parameter_bytes"]
  assert evaluation["parameter_bytes"] <= evaluation["argument_bytes"] < evaluation["total_bytes"]


def test_an_evaluation_that_cannot_fit_exits_1_naming_it(tmp_path, capsys):
  # 32k-token prompts: the prefill's attention scores alone are far beyond 16 GiB a chip.
  status, record = _plan(tmp_path, [*TINY, "--gin.EvaluationConfig.max_length=32768",
                                    "--gin.EvaluationConfig.batch_size=8"])
  last_line = capsys.readouterr().out.splitlines()[-1]
  assert status == 1 and not record["fits"] and record["step"]["fits"]
  assert last_line.startswith("DOES NOT FIT: evaluation ") and "> 16 GiB HBM" in last_line
  assert record["evaluation"]["total_bytes"] > 16 * 2**30


# gin/smoke/p2.gin (the tiny model: vocabulary 1024) on the same slice: P2's test sets,
# four of them multiple choice and the Aya data's perplexity (a test set's own metric).
P2_TINY = ["--gin_file=gin/smoke/p2.gin", "--topology=v5e:2x2", "--skip_flops",
           "--gin.MeshConfig.data=1", "--gin.MeshConfig.fsdp=2", "--gin.MeshConfig.tensor=2",
           "--gin.EvaluationConfig.max_length=256"]


def test_log_likelihood_scoring_is_planned_at_the_engines_longest_batch(tmp_path, capsys):
  status, record = _plan(tmp_path, P2_TINY)
  printed = capsys.readouterr().out
  assert status == 0 and printed.splitlines()[-1] == "FITS" and record["fits"]
  scoring = record["scoring"]
  # Every set the evaluator scores by log-likelihood, none it decodes; aya_dataset by its
  # EvaluationSet.metric 'perplexity', not its dataset's llm_judge.
  assert scoring["shape"] == {"tasks": ["okapi_mmlu", "mmmlu", "cmmlu", "ceval", "aya_dataset"],
                              "batch_size": 8, "length": 256}
  assert record["evaluation"]["shape"]["task"] == "xquad"
  assert ("scoring         log-likelihood batch 8 x 256 tokens, all scored (tasks okapi_mmlu,"
          " mmmlu, cmmlu, ceval, aya_dataset)") in printed
  # Held as training holds them; every position's logits over the vocabulary (4 rows a
  # chip, at least half the vocabulary, 2 bytes or more) are among the temporaries.
  assert scoring["param_dtype"] == "float32"
  assert scoring["parameter_bytes"] == record["evaluation"]["parameter_bytes"]
  assert scoring["temporary_bytes"] >= 4 * 256 * 512 * 2
  assert scoring["parameter_bytes"] <= scoring["argument_bytes"] < scoring["total_bytes"]


def test_log_likelihood_scoring_that_cannot_fit_exits_1_naming_it(tmp_path, capsys):
  # 32k-token windows: their attention scores alone are far beyond 16 GiB a chip (as are
  # the decoding prefill's: the verdict names both).
  status, record = _plan(tmp_path, [*P2_TINY, "--gin.EvaluationConfig.max_length=32768"])
  last_line = capsys.readouterr().out.splitlines()[-1]
  assert status == 1 and not record["fits"] and record["step"]["fits"]
  assert not record["scoring"]["fits"] and record["scoring"]["total_bytes"] > 16 * 2**30
  assert last_line.startswith("DOES NOT FIT: evaluation ") and "; scoring " in last_line
  assert last_line.endswith("> 16 GiB HBM")


BATCH_NOT_SPLIT = ("EvaluationConfig.batch_size=3 is not a multiple of the 2 batch shards of"
                   " mesh {'slice': 1, 'data': 1, 'fsdp': 2, 'tensor': 2}, so the inference"
                   " engine would refuse it after training: set EvaluationConfig.batch_size=4"
                   " (or plan with --skip_evaluation)")
NO_ROOM = ("task 'demo_arith' generates up to 300 tokens, which leaves no room for a prompt in"
           " EvaluationConfig.max_length=256")


@pytest.mark.parametrize("arguments, message", [
    (["--gin.EvaluationConfig.batch_size=3"], BATCH_NOT_SPLIT),
    (["--gin.EvaluationConfig.max_new_tokens=300"], NO_ROOM),
])
def test_a_bad_evaluation_config_exits_2_before_compiling(arguments, message, capsys):
  assert plan.main([*TINY, *EVALUATION, *arguments]) == 2
  captured = capsys.readouterr()
  assert captured.err.strip().splitlines()[-1] == f"error: {message}"
  assert "compiling" not in captured.err


TINY_LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 512,
              "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 3,
              "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "tie_word_embeddings": False,
              "max_position_embeddings": 256}


def test_a_base_checkpoint_is_planned_from_its_own_config_json(tmp_path, capsys):
  """gin's ModelConfig (smoke_cpu's 2-layer model) gives way to config.json's 3-layer
  Llama, whose parameter count is transformers' own."""
  transformers = pytest.importorskip("transformers")
  base = tmp_path / "tiny-llama"
  base.mkdir()
  (base / "config.json").write_text(json.dumps(TINY_LLAMA))  # no weights: config.json suffices
  status, record = _plan(tmp_path, [*TINY, "--skip_evaluation",
                                    f"--gin.Experiment.base_checkpoint='{base}'"])
  printed = capsys.readouterr().out
  assert status == 0
  assert printed.splitlines()[0] == (
      f"model           {base}/config.json (Experiment.base_checkpoint)")
  assert record["model_source"] == f"{base}/config.json (Experiment.base_checkpoint)"
  reference = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY_LLAMA))
  assert record["step"]["parameter_count"] == reference.num_parameters()
  assert "evaluation" not in printed and record["evaluation"] is None


def test_a_base_checkpoint_without_config_json_exits_2(tmp_path, capsys):
  assert plan.main([*TINY, f"--gin.Experiment.base_checkpoint='{tmp_path}'"]) == 2
  assert capsys.readouterr().err.strip() == (
      f"error: base checkpoint {tmp_path} has neither config.json (a Hugging Face checkpoint)"
      " nor model.json (an xlt checkpoint)")


# P2's adapters (gin/training/lora_p2.gin) on the tiny model: rank 8 on q, k, v, int8 base.
LORA = ["--gin.TrainConfig.lora=@LoraConfig()", "--gin.LoraConfig.rank=8",
        "--gin.LoraConfig.base_dtype='int8'"]


def test_the_lora_step_is_planned_with_only_adapters_in_the_optimizer(tmp_path, capsys):
  _, full = _plan(tmp_path, [*TINY, "--skip_evaluation"], "full.json")
  capsys.readouterr()
  status, record = _plan(tmp_path, [*TINY, "--skip_evaluation", *LORA])
  printed = capsys.readouterr().out
  assert status == 0
  lora, full = record["step"], full["step"]
  assert "step            LoRA step: batch 16 x 64 tokens" in printed
  # Adapters: per layer, q (32 -> 4 x 8) and k, v (32 -> 2 x 8) each get A [in, 8], B [8, out].
  adapters = 2 * ((32 * 8 + 8 * 32) + 2 * (32 * 8 + 8 * 16))
  assert lora["trainable_parameter_count"] == adapters
  assert f"only the {adapters:,} adapter parameters" in printed
  assert lora["lora"]["rank"] == 8 and full["lora"] is None
  assert full["trainable_parameter_count"] == full["parameter_count"]
  # AdamW's two float32 moments of the adapters only, against the whole model's.
  assert lora["optimizer_bytes"] < full["optimizer_bytes"] / 4
  # int8 projection kernels (with their scales) instead of float32 ones.
  assert lora["parameter_bytes"] < full["parameter_bytes"]
  # No weight gradient for the frozen base: 4 instead of 6 x its matmul parameters.
  tokens = 16 * 64
  matmul = (full["analytic_flops"] * 4 / tokens - 3 * 2 * 2 * 2 * 4 * 8 * 64) / 6
  assert lora["analytic_flops"] == pytest.approx(
      full["analytic_flops"] - (2 * matmul - 6 * adapters) * tokens / 4)


def test_lora_with_residual_dropout_is_refused_as_the_launcher_refuses_it(capsys):
  assert plan.main([*TINY, *LORA, "--gin.TrainConfig.dropout_rate=0.1"]) == 2
  assert "TrainConfig.dropout_rate=0.1 with LoRA" in capsys.readouterr().err
