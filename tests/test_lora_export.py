"""LoRA export against the external references: `peft` loads our adapter directory onto the
`transformers` model and gives our adapted logits, with the tensor names PEFT itself saves;
`transformers` loads the merged export and gives the same logits."""

import json

import jax
import numpy as np
import pytest
from flax import linen as nn

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from safetensors.numpy import load_file

from xlt_jax.models import conversion, lora
from xlt_jax.models.decoder import Decoder
from xlt_jax.training import lora_export

LLAMA = {"vocab_size": 97, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
             "tie_word_embeddings": False}


def _tiny_llama(directory):
  torch.manual_seed(0)
  model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA)).eval()
  model.save_pretrained(directory)
  return model


def _random_adapters(lora_config, seed=0):
  config = conversion.model_config_from_hf(json.loads(json.dumps(LLAMA | {
      "model_type": "llama", "architectures": ["LlamaForCausalLM"]})))
  boxed = Decoder(config, lora_config).init(jax.random.key(0), np.zeros((1, 1), np.int32))
  _, adapters = lora.split(nn.unbox(boxed)["params"])
  rng = np.random.default_rng(seed)
  # Non-zero B (a fresh adapter's B is zero, which would hide a transposed layout).
  return jax.tree.map(lambda leaf: rng.normal(0, 0.3, leaf.shape).astype(np.float32), adapters)


@pytest.mark.parametrize("targets", [("q_proj", "k_proj", "v_proj"),
                                     ("o_proj", "gate_proj", "up_proj", "down_proj")])
def test_peft_loads_our_adapter_and_merged_weights_equal_it(targets, tmp_path):
  _tiny_llama(tmp_path / "hf")
  conversion.hf_to_xlt(str(tmp_path / "hf"), str(tmp_path / "xlt"))
  lora_config = lora.LoraConfig(rank=4, alpha=16, dropout=0.05, targets=targets)
  adapters = _random_adapters(lora_config)
  config, base, _ = conversion.load_xlt(str(tmp_path / "xlt"))
  tokens = np.random.default_rng(1).integers(0, 97, (2, 11))
  ours = np.asarray(Decoder(config, lora_config).apply(
      {"params": lora.combine(base, adapters)}, tokens)[0])

  lora_export.export_peft(str(tmp_path / "xlt"), lora_config, adapters, str(tmp_path / "peft"))
  base_model = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf"))
  adapted = peft.PeftModel.from_pretrained(base_model, str(tmp_path / "peft")).eval()
  with torch.no_grad():
    theirs = adapted(torch.from_numpy(tokens)).logits.numpy()
    plain = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf"))(
        torch.from_numpy(tokens)).logits.numpy()
  assert np.abs(theirs - plain).max() > 0.05  # the adapter changes the model
  np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)

  # Our file holds exactly the tensors, names and shapes PEFT saves for these targets.
  reference = peft.get_peft_model(
      transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")),
      peft.LoraConfig(r=4, lora_alpha=16, lora_dropout=0.05, target_modules=list(targets),
                      task_type="CAUSAL_LM"))
  reference.save_pretrained(str(tmp_path / "peft_reference"))
  expected = load_file(str(tmp_path / "peft_reference" / lora_export.PEFT_WEIGHTS_FILE))
  written = load_file(str(tmp_path / "peft" / lora_export.PEFT_WEIGHTS_FILE))
  assert {name: value.shape for name, value in written.items()} == {
      name: value.shape for name, value in expected.items()}

  lora_export.export_merged(str(tmp_path / "xlt"), lora_config, adapters,
                            str(tmp_path / "merged"))
  merged = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged")).eval()
  with torch.no_grad():
    np.testing.assert_allclose(merged(torch.from_numpy(tokens)).logits.numpy(), theirs,
                               atol=1e-4, rtol=1e-4)
