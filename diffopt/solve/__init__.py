"""Solvers: pure functions of an objective/gradient oracle (no parsing, no printing).

loop (the driver: minimize), methods (the table of methods by name), state
(what every method shares), one module per family (first_order,
quasi_newton, newton, least_squares, nelder_mead), linesearch, constraints
(augmented Lagrangian), oracle and result (what goes in and comes out).
"""
