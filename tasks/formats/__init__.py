"""Readers of the official dataset formats, one module per format.

Each module says where its files live under DATA_DIR (its `path` function and
module docstring), and loads one language x split into examples with stable ids
(`load(data_dir, language, split, policy) -> rows.LoadResult`).
"""
