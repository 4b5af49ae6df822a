"""Train a model from an option file.

The command lives in ``blindsr.commands.train`` (installed as ``blindsr-train``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.train import main

if __name__ == '__main__':
    sys.exit(main())
