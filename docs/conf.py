"""Sphinx configuration of the copi_bio documentation (``sphinx-build -W docs docs/_build/html``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # document this checkout, not an installed copy
os.environ.setdefault("MPLBACKEND", "Agg")

import copi_bio  # noqa: E402

project = "copi_bio"
author = "the copi_bio developers"
copyright = "2026, the copi_bio developers"
release = version = copi_bio.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "copi_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "figures/*.svg", "examples/README.txt"]
templates_path: list[str] = []

myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections document the types
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "reset_modules": ("matplotlib", "copi_docs.quiet_third_party"),
}

html_theme = "furo"
html_title = f"copi_bio {release}"
html_static_path: list[str] = []
