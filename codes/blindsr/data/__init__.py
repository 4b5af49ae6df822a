"""Datasets; each ``*_dataset.py`` registers its classes in ``DATASETS`` under its ``mode``."""
from blindsr.data.errors import DatasetError  # noqa: F401
