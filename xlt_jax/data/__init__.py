"""Preparing DATA_DIR: fetch each dataset's official release and write the files tasks read.

`python -m xlt_jax.data prepare DATASET --out DATA_DIR [--source FILE_OR_DIR]`
(see __main__.py). One module per source; where the files go is defined by the
reader in tasks/formats/, so the two never disagree.
"""
