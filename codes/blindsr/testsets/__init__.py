"""Benchmark test sets as the MANet authors build them (``codes/prepare_testset.py``).

Modules: ``protocol`` (the cases, their order and file names), ``degrade`` (one image of a
case, with the authors' random stream), ``build`` (the whole option file, written to disk).
"""
