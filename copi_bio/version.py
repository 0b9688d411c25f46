"""The package version (one place; :mod:`copi_bio` and the file formats read it)."""

__version__ = "0.1.0"
