"""Test a model on the datasets of an option file; write SR images, kernel pictures and metrics.

The command lives in ``blindsr.commands.test`` (installed as ``blindsr-test``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.test import main

if __name__ == '__main__':
    sys.exit(main())
