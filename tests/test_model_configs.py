"""The gin model files of real checkpoints describe those checkpoints exactly.

For each `gin/models/<checkpoint>.gin`: the ModelConfig gin builds from it has the
parameter count of the same architecture built by `transformers` (on the meta device,
so nothing is allocated), and equals what `model_config_from_hf` makes of the
checkpoint's `config.json`. The config.json values are written out below, as
published on the Hugging Face Hub (architecture fields only).
"""

import dataclasses
import pathlib

import pytest

import gin
from xlt_jax.models.config import ModelConfig
from xlt_jax.models.decoder import parameter_count
from xlt_jax.models.hf_config import model_config_from_hf
from xlt_jax.runner import gin_setup

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

REPO = pathlib.Path(__file__).resolve().parents[1]

_LLAMA31_ROPE = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                 "original_max_position_embeddings": 8192, "rope_type": "llama3"}

# gin file -> (the checkpoint's config.json architecture fields, expected parameter count
# or (low, high) bounds). Exact counts are the ones each model card or a converter
# publishes; the bounds are the advertised size class.
CHECKPOINTS = {
    "gin/models/aya23_8b.gin": (dict(  # CohereForAI/aya-23-8B
        model_type="cohere", vocab_size=256000, hidden_size=4096, intermediate_size=14336,
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
        max_position_embeddings=8192, layer_norm_eps=1e-5, rope_theta=10000,
        logit_scale=0.0625, use_qk_norm=False, tie_word_embeddings=True,
    ), (7.9e9, 8.1e9)),
    "gin/models/aya23_35b.gin": (dict(  # CohereForAI/aya-23-35B
        model_type="cohere", vocab_size=256000, hidden_size=8192, intermediate_size=22528,
        num_hidden_layers=40, num_attention_heads=64, num_key_value_heads=64,
        max_position_embeddings=8192, layer_norm_eps=1e-5, rope_theta=8000000.0,
        logit_scale=0.0625, use_qk_norm=False, tie_word_embeddings=True,
    ), (34.5e9, 35.5e9)),
    "gin/models/llama31_8b.gin": (dict(  # meta-llama/Llama-3.1-8B
        model_type="llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336,
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
        max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
        rope_scaling=_LLAMA31_ROPE, tie_word_embeddings=False,
    ), 8_030_261_248),
    "gin/models/llama2_7b.gin": (dict(  # meta-llama/Llama-2-7b-hf
        model_type="llama", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
        max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False,
    ), 6_738_415_616),
    "gin/models/llama2_70b.gin": (dict(  # meta-llama/Llama-2-70b-hf
        model_type="llama", vocab_size=32000, hidden_size=8192, intermediate_size=28672,
        num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
        max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False,
    ), (68.5e9, 69.5e9)),  # "70B"; 68,976,648,192 by the shapes above
    "gin/models/gemma_2b.gin": (dict(  # google/gemma-2b
        model_type="gemma", vocab_size=256000, hidden_size=2048, intermediate_size=16384,
        num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=1, head_dim=256,
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0,
        hidden_act="gelu",
    ), (2.4e9, 2.6e9)),
    "gin/models/gemma_7b.gin": (dict(  # google/gemma-7b
        model_type="gemma", vocab_size=256000, hidden_size=3072, intermediate_size=24576,
        num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=16, head_dim=256,
        max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0,
        hidden_act="gelu",
    ), (8.5e9, 8.6e9)),  # P2: "circa 8.54B parameters"
    "gin/models/qwen1_5_7b.gin": (dict(  # Qwen/Qwen1.5-7B
        model_type="qwen2", vocab_size=151936, hidden_size=4096, intermediate_size=11008,
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
        use_sliding_window=False, sliding_window=32768, max_window_layers=28,
        tie_word_embeddings=False,
    ), 7_721_324_544),  # its model.safetensors.index.json: 15,442,649,088 bf16 bytes
    # Qwen1.5's other P2 sizes: config.json as copied from the Hub snapshots (see each gin
    # file); the exact counts round to the leaderboards' "params" (0.62 counts the tied
    # lm_head a second time: 463,987,712 + 151,936 x 1,024 = 619,570,176).
    "gin/models/qwen1_5_0_5b.gin": ({  # Qwen/Qwen1.5-0.5B
        "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 2816,
        "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21,
        "tie_word_embeddings": True,
    }, 463_987_712),
    "gin/models/qwen1_5_1_8b.gin": ({  # Qwen/Qwen1.5-1.8B
        "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5504,
        "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21,
        "tie_word_embeddings": False,
    }, 1_836_828_672),  # leaderboards: 1.837
    "gin/models/qwen1_5_4b.gin": ({  # Qwen/Qwen1.5-4B
        "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 2560, "intermediate_size": 6912,
        "num_hidden_layers": 40, "num_attention_heads": 20, "num_key_value_heads": 20,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 5000000.0,
        "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 21,
        "tie_word_embeddings": False,
    }, 3_950_369_280),  # leaderboard: 3.95
    "gin/models/qwen1_5_14b.gin": ({  # Qwen/Qwen1.5-14B
        "model_type": "qwen2", "vocab_size": 152064, "hidden_size": 5120, "intermediate_size": 13696,
        "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 40,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 35,
        "tie_word_embeddings": False,
    }, 14_167_290_880),  # leaderboard: 14.167
    "gin/models/falcon_7b.gin": (dict(  # tiiuae/falcon-7b
        model_type="falcon", vocab_size=65024, hidden_size=4544, num_hidden_layers=32,
        num_attention_heads=71, multi_query=True, parallel_attn=True,
        new_decoder_architecture=False, alibi=False, bias=False, layer_norm_epsilon=1e-5,
        max_position_embeddings=2048,
    ), (6.8e9, 7.0e9)),
    "gin/models/qwen3_0_6b.gin": (dict(  # Qwen/Qwen3-0.6B-Base
        model_type="qwen3", vocab_size=151936, hidden_size=1024, intermediate_size=3072,
        num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000,
        tie_word_embeddings=True,
    ), 596_049_920),
    "gin/models/qwen3_1_7b.gin": (dict(  # Qwen/Qwen3-1.7B-Base
        model_type="qwen3", vocab_size=151936, hidden_size=2048, intermediate_size=6144,
        num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000,
        tie_word_embeddings=True,
    ), (1.6e9, 1.8e9)),
    "gin/models/qwen3_8b.gin": (dict(  # Qwen/Qwen3-8B-Base
        model_type="qwen3", vocab_size=151936, hidden_size=4096, intermediate_size=12288,
        num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000,
        tie_word_embeddings=False,
    ), (8.1e9, 8.3e9)),
    "gin/models/gemma3_1b.gin": (dict(  # google/gemma-3-1b-pt
        model_type="gemma3_text", vocab_size=262144, hidden_size=1152, intermediate_size=6912,
        num_hidden_layers=26, num_attention_heads=4, num_key_value_heads=1, head_dim=256,
        max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000,
        rope_local_base_freq=10000, rope_scaling=None, query_pre_attn_scalar=256,
        sliding_window=512, sliding_window_pattern=6, hidden_activation="gelu_pytorch_tanh",
        final_logit_softcapping=None, attn_logit_softcapping=None,
    ), 999_885_952),
    "gin/models/gemma3_4b.gin": (dict(  # google/gemma-3-4b-pt, its text_config
        model_type="gemma3_text", vocab_size=262208, hidden_size=2560, intermediate_size=10240,
        num_hidden_layers=34, num_attention_heads=8, num_key_value_heads=4, head_dim=256,
        max_position_embeddings=131072, rms_norm_eps=1e-6, rope_theta=1000000,
        rope_local_base_freq=10000, rope_scaling={"factor": 8.0, "rope_type": "linear"},
        query_pre_attn_scalar=256, sliding_window=1024, sliding_window_pattern=6,
        hidden_activation="gelu_pytorch_tanh", final_logit_softcapping=None,
        attn_logit_softcapping=None,
    ), (3.8e9, 3.95e9)),  # keras-hub's gemma3_4b_text: 3,880,099,328, i.e. 64 rows fewer
}

NOT_ARCHITECTURE = ("dtype", "param_dtype", "remat_policy")  # run choices, not the checkpoint's


def gin_model_config(path: str) -> ModelConfig:
  """The ModelConfig that the gin file alone builds."""
  gin_setup._register()  # registers ModelConfig once per process, shared with the binaries
  gin.clear_config()
  try:
    gin.parse_config_file(str(REPO / path))
    return gin.get_configurable("ModelConfig")()
  finally:
    gin.clear_config()


def hf_config(values: dict):
  values = dict(values)
  return transformers.AutoConfig.for_model(values.pop("model_type"), **values)


def transformers_parameter_count(config) -> int:
  """Parameters of the transformers causal LM, built on the meta device (no memory).

  `parameters()` yields a tied embedding / lm_head tensor once.
  """
  with torch.device("meta"):
    model = transformers.AutoModelForCausalLM.from_config(config)
  return sum(parameter.numel() for parameter in model.parameters())


def test_every_checkpoint_gin_file_is_listed():
  shipped = {str(path.relative_to(REPO)) for path in (REPO / "gin" / "models").glob("*.gin")}
  assert shipped - {"gin/models/demo_small.gin", "gin/models/tiny_test.gin"} == set(CHECKPOINTS)


@pytest.mark.parametrize("path", sorted(str(p.relative_to(REPO))
                                        for p in (REPO / "gin" / "models").glob("*.gin")))
def test_gin_model_file_parses(path):
  assert gin_model_config(path).embed_dim > 0


@pytest.mark.parametrize("path", sorted(CHECKPOINTS))
def test_gin_file_matches_hf_config(path):
  values, _ = CHECKPOINTS[path]
  ours = gin_model_config(path)
  theirs = model_config_from_hf(hf_config(values).to_dict())
  differences = {
      field.name: (getattr(ours, field.name), getattr(theirs, field.name))
      for field in dataclasses.fields(ModelConfig)
      if field.name not in NOT_ARCHITECTURE
      and getattr(ours, field.name) != getattr(theirs, field.name)
  }
  assert not differences, f"{path}: field: (gin, from config.json) {differences}"
  assert ours.remat_policy == "full"


@pytest.mark.parametrize("path", sorted(CHECKPOINTS))
def test_parameter_count_matches_transformers(path):
  values, expected = CHECKPOINTS[path]
  ours = parameter_count(gin_model_config(path))
  assert ours == transformers_parameter_count(hf_config(values))
  if isinstance(expected, int):
    assert ours == expected
  else:
    low, high = expected
    assert low <= ours <= high, f"{path}: {ours:,} outside [{low:,.0f}, {high:,.0f}]"


def test_gemma3_4b_multimodal_config_json_gives_the_gin_file():
  """google/gemma-3-4b-pt's own config.json is multimodal and names few text fields
  (the rest are Gemma3TextConfig defaults): its language model is gin's gemma3_4b."""
  multimodal = {
      "architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999,
      "eoi_token_index": 256000, "eos_token_id": [1, 106], "image_token_index": 262144,
      "initializer_range": 0.02, "mm_tokens_per_image": 256, "model_type": "gemma3",
      "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
                      "model_type": "gemma3_text", "num_hidden_layers": 34,
                      "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                      "sliding_window": 1024},
      "torch_dtype": "bfloat16",
      "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                        "model_type": "siglip_vision_model", "num_attention_heads": 16,
                        "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": False},
  }
  ours = dataclasses.replace(gin_model_config("gin/models/gemma3_4b.gin"), remat_policy="none")
  assert model_config_from_hf(multimodal) == ours
  with torch.device("meta"):
    model = transformers.Gemma3ForConditionalGeneration(
        transformers.Gemma3Config(**{key: value for key, value in multimodal.items()
                                     if key not in ("architectures", "torch_dtype")}))
  text = sum(parameter.numel() for name, parameter in model.named_parameters()
             if "language_model" in name)
  assert parameter_count(ours) == text
