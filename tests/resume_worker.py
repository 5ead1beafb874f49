"""A tiny training run for the resume tests, in-process or as a subprocess to kill.

    python tests/resume_worker.py RUN_DIR DATA_DIR [JSON overrides of TrainConfig, and
        "learning_rate" / "mlp_dim"]

Like `python -m xlt_jax.launch`, it installs the SIGTERM handler, exits 75 with the
preemption message when preempted and 2 with one `error:` line for bad input. It skips
the study's tokenizer, evaluation and report so that a test can afford several runs.
"""

import dataclasses
import json
import os
import sys

if __name__ == "__main__":  # before jax loads; pytest's conftest does the same in-process
  os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
  os.environ["JAX_PLATFORMS"] = "cpu"
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import seqio  # noqa: E402

from tasks import registration  # noqa: E402
from xlt_jax.core.errors import UserInputError  # noqa: E402
from xlt_jax.data import demo as demo_data
from xlt_jax.models.config import ModelConfig
from xlt_jax.training import preemption, sharding, trainer  # noqa: E402
from xlt_jax.training.train_step import OptimizerConfig  # noqa: E402

MODEL = ModelConfig(vocab_size=384, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2,
                    head_dim=8, mlp_dim=64)
VOCABULARY = seqio.ByteVocabulary()  # one instance: tasks are registered by its identity
MESH = sharding.MeshConfig(data=2, fsdp=2, tensor=2)
TRAIN = trainer.TrainConfig(batch_size=8, inputs_length=48, targets_length=32, num_epochs=100,
                            max_steps=30, validation_every_steps=10, checkpoint_every_steps=5,
                            log_every_steps=1, keep_latest_checkpoints=2,
                            keep_best_checkpoints=1)


def write_data(data_dir: str) -> None:
  """The English demo train (64) and validation (8) splits."""
  demo_data.write_demo_dataset(data_dir, {"train": 64, "validation": 8, "test": 0},
                               languages=("en",))


def train(run_dir: str, data_dir: str, overrides: dict | None = None, preemption_notice=None,
          stream=sys.stdout, manifest: dict | None = None) -> dict:
  """trainer.train_run on the English demo task with byte tokens; `overrides` change
  TrainConfig fields, the learning rate or the model's mlp_dim; `manifest` stands for
  the study's (only what a resume compares)."""
  overrides = dict(overrides or {})
  optimizer = OptimizerConfig(learning_rate=overrides.pop("learning_rate", 1e-3))
  model = dataclasses.replace(MODEL, mlp_dim=overrides.pop("mlp_dim", MODEL.mlp_dim))
  train_task = registration.register_task("demo_arith", data_dir, "en", "train", VOCABULARY)
  validation_task = registration.register_task("demo_arith", data_dir, "en", "validation",
                                               VOCABULARY)
  return trainer.train_run(
      run_dir=run_dir, run_name="tiny", model_config=model, optimizer_config=optimizer,
      train_config=dataclasses.replace(TRAIN, **overrides), mesh=sharding.make_mesh(MESH),
      mixture=train_task, validation_mixture=validation_task, num_train_examples=64,
      manifest=manifest, preemption=preemption_notice, stream=stream)


def main(argv: list[str]) -> int:
  import absl.logging

  absl.logging.set_verbosity(absl.logging.ERROR)  # as the launcher does
  notice = preemption.install_sigterm_handler()
  run_dir, data_dir = argv[:2]
  try:
    train(run_dir, data_dir, json.loads(argv[2]) if len(argv) > 2 else None, notice)
  except preemption.Preempted as stop:
    print(stop, flush=True)
    return preemption.EXIT_STATUS
  except UserInputError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print("finished", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
