"""Option files: loading, validation, overrides (``load_options``)."""
from .loader import OptionsError, dump_options, load_options  # noqa: F401
