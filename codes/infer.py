"""Super-resolve your own low-resolution images with a trained checkpoint; no option file needed.

The command lives in ``blindsr.commands.infer`` (installed as ``blindsr-infer``); ``--help`` lists its flags.
"""
import sys

from blindsr.commands.infer import main

if __name__ == '__main__':
    sys.exit(main())
