"""Parity of a converted model with `transformers`: the check users run after conversion.

`python -m xlt_jax.convert verify --hf_dir DIR` calls `verify`. It needs torch and
transformers: `pip install -e ".[verify]"` (the `[test]` extra includes them).
"""

import sys

import numpy as np

from xlt_jax.core.errors import UserInputError
from xlt_jax.evaluation.decoding import greedy_generate, left_pad
from xlt_jax.models.conversion import from_hf
from xlt_jax.models.hf_params import open_hf

INSTALL_HINT = 'pip install -e ".[verify]"'


def _reference_libraries():
  """(torch, transformers), or a UserInputError that says how to install them."""
  try:
    import torch
    import transformers
  except ImportError as error:
    raise UserInputError(f"verify compares with transformers and needs torch and transformers"
                         f" ({error}): {INSTALL_HINT}") from None
  return torch, transformers


def verify(hf_dir: str, tolerance: float = 1e-4, new_tokens: int = 16, stream=sys.stdout) -> bool:
  """Compares logits and greedy continuations of transformers and xlt-jax in float32.

  Returns:
    True when the largest absolute logit difference is within `tolerance`.

  Raises:
    UserInputError: `hf_dir` lacks config.json or weights, its family is not supported,
      or torch or transformers is not installed.
  """
  open_hf(hf_dir)  # config.json, a supported family and safetensors weights, before torch loads
  torch, transformers = _reference_libraries()
  reference = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
  reference.eval()
  model, params = from_hf(hf_dir, dtype="float32")
  vocab = model.config.vocab_size
  tokens = np.random.default_rng(0).integers(3, vocab, (2, 24))
  with torch.no_grad():
    expected = reference(torch.from_numpy(tokens)).logits.numpy()
    theirs = reference.generate(torch.from_numpy(tokens), max_new_tokens=new_tokens,
                                min_new_tokens=new_tokens, do_sample=False, eos_token_id=None,
                                pad_token_id=0)[:, tokens.shape[1]:].numpy()
  logits = np.asarray(model.apply({"params": params}, tokens)[0])
  padded, mask = left_pad(tokens.tolist())
  ours = np.asarray(greedy_generate(model, params, padded, mask, max_new_tokens=new_tokens,
                                    eos_id=-1))
  difference = float(np.max(np.abs(logits - expected)))
  print(f"max |logit difference|: {difference:.3g} (tolerance {tolerance:g})", file=stream)
  for row in range(tokens.shape[0]):
    print(f"row {row} transformers: {theirs[row].tolist()}", file=stream)
    print(f"row {row} xlt-jax:      {ours[row].tolist()}", file=stream)
  same = bool((ours == theirs).all())
  print("greedy continuations: " + ("identical" if same else "DIFFERENT"), file=stream)
  return difference <= tolerance and same
