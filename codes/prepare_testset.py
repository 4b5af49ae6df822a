"""Build the paper's benchmark sets (SI kernel grid, SV modes 1-5, noise 0/15) from HR folders.

The command lives in ``blindsr.commands.prepare_testset`` (installed as ``blindsr-prepare-testset``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.prepare_testset import main

if __name__ == '__main__':
    sys.exit(main())
