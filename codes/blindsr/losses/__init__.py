"""Losses; each ``*_loss.py`` registers in ``LOSSES``."""
