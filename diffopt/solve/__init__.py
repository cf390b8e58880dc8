"""Solvers: pure functions of an objective/gradient oracle (no parsing, no printing)."""
