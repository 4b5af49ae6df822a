"""Explore estimated kernel fields (``codes/explore_kernels.py``).

Modules: ``field_file`` (read a saved field and pick the kernels under a pixel), ``window``
(the interactive matplotlib window), ``html_page`` (the same in one self-contained HTML
file), ``grid_picture`` (kernels drawn on a grid over the image).
"""
