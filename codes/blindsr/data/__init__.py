"""Datasets; each ``*_dataset.py`` registers its classes in ``DATASETS`` under its ``mode``."""
