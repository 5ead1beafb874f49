"""Installs xlt-jax: the `xlt_jax` library and binaries and the `tasks` registrations."""

import setuptools

setuptools.setup(
    name="xlt-jax",
    version="0.1.0",
    description=(
        "Controlled multilingual post-training studies in JAX: seqio mixtures with"
        " language budgets, a sharded trainer, per-language evaluation and reports."
    ),
    packages=setuptools.find_packages(include=["xlt_jax", "xlt_jax.*", "tasks", "tasks.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=[
        # [tpu] brings libtpu: `python -m xlt_jax.plan` compiles for TPU topologies on a CPU.
        # On a machine without TPUs set JAX_PLATFORMS=cpu (the tests and binaries do).
        "jax[tpu]>=0.10.2,<0.11",
        "flax>=0.12.8,<0.13",
        "optax>=0.2.8,<0.3",
        "orbax-checkpoint>=0.12.8,<0.13",
        # xlt_jax/core/paths.py: gs:// MODEL_DIR / DATA_DIR (tf.io.gfile underneath).
        "etils[epath]>=1.7",
        # orbax asks the bucket for its namespace before it lists gs:// checkpoints.
        "google-cloud-storage>=2.18",
        "gin-config==0.5.0",
        "seqio==0.0.20",
        "tensorflow==2.21.0",
        # 2.21.0 is broken with seqio; 2.21.1 is the first release that works.
        "tensorflow-text==2.21.1",
        "sentencepiece>=0.2.0,<0.3",
        "safetensors>=0.4",
        "numpy>=2.0",
        "matplotlib>=3.9",
        "tensorboard>=2.21,<2.22",  # tf.summary writes TensorBoard scalars only with it
        "pyarrow>=20",  # Aya evaluation suite and Aya dataset parquet files
        "ijson>=3.3",  # streams the 11.6 GB mCoT-MATH JSON list without loading it
        "huggingface_hub>=0.30",  # `python -m xlt_jax.data prepare` fetches official releases
        "py3langid>=0.3",  # offline language ID (model ships in the wheel)
        "pandas>=2.2",  # the mixture inspector's tables
        # mimalloc for the training process (xlt_jax/training/host_memory.py): memory reused, not
        # faulted in afresh every step. Wheels exist for x86-64 Linux.
        "cmeel-mimalloc>=3.4; sys_platform == 'linux' and platform_machine == 'x86_64'",
    ],
    extras_require={
        # torch 2.13.0 (CPU build) and transformers are the reference for parity tests.
        "test": [
            "pytest>=8",
            "torch==2.13.0",
            "transformers>=5.0,<6",
            # executes notebooks/inspect_mixtures.ipynb in the tests
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            # tests/fake_gcs.py: the TLS certificate of the loopback GCS server
            "cryptography>=42",
        ],
    },
)
