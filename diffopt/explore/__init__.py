"""Exploring a problem beyond one solve: multi-start and sweeps of constants.

``starts`` draws the starting points of ``solve --starts`` and groups the
solutions into distinct local optima; ``grid`` turns ``sweep --set`` values
into cases; ``worker`` solves one task wherever it runs (this process, a
pool process, a Dask worker), loading the problem once per worker;
``executors`` and ``dask_executor`` run tasks and hand back results in
completion order; ``sweep`` drives a sweep and ``multistart`` a
multi-start; ``jsonl`` writes and reads the sweep's results file. Engines
only: nothing here prints.
"""
