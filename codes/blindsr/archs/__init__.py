"""Network architectures; each ``*_arch.py`` registers its classes in ``ARCHS``."""
