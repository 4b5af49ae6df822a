"""The command-line programs: each module's ``main(argv)`` is an entry point (see pyproject.toml)."""
