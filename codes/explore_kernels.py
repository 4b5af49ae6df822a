"""Explore the kernels a model estimated for every pixel of an image.

The command lives in ``blindsr.commands.explore_kernels`` (installed as ``blindsr-explore-kernels``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.explore_kernels import main

if __name__ == '__main__':
    sys.exit(main())
