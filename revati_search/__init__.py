"""revati-search: GPU-free configuration search for LLM serving."""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("revati-search")
except _metadata.PackageNotFoundError:   # a plain checkout, not installed
    __version__ = "0+unknown"
