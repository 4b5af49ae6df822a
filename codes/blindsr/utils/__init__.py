"""Small topical helpers (I/O, devices, logging)."""
