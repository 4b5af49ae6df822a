"""Super-resolving real photos without an option file (``codes/infer.py``).

Modules: ``checkpoint_options`` (the options of a saved network, from its sidecar record or
an option file), ``runner`` (images in, SR images and kernel fields out).
"""
