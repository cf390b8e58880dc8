"""The fuzzer: generated and mutated programs and command lines, run in-process.

``programs`` draws valid-looking programs from the grammar, ``mutate``
damages real ones (problems/ and tests/bad/), ``drive`` runs one case
through the CLI and classifies what happened, and ``run`` is the long-run
script (``python tests/fuzz/run.py --cases 100000``). tests/test_fuzz.py
runs a bounded sample of each on every test run.
"""
