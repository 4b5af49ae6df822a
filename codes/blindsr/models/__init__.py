"""Models (training/test recipes); each ``*_model.py`` registers in ``MODELS``."""
