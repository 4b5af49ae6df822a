"""Benchmark kernel estimators, restorers and end-to-end methods on prepared test sets.

The command lives in ``blindsr.commands.benchmark`` (installed as ``blindsr-benchmark``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.benchmark import main

if __name__ == '__main__':
    sys.exit(main())
