"""The lowest layer: datasets by name. Importing it registers every dataset family (MNIST and Fashion-MNIST,
a synthetic set, generated Ising configurations, uploads, and '<base>-without-<k>' subsets)."""

from . import mnist  # noqa: I001, F401 - registered first: the default, listed first
from . import ising, subsets, uploads  # noqa: F401 - each registers its datasets
from .mnist import download
from .registry import LOADERS, DataUnavailable, Dataset, data_root, load, register, unregister, variant

__all__ = ["LOADERS", "DataUnavailable", "Dataset", "data_root", "download", "load", "register", "unregister",
           "variant"]
