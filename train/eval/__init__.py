"""Evaluation of trained runs: Table I, leakage, denseness/divergence, controllability, figures."""
