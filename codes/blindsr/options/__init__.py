"""Option files: loading, validation, overrides."""
