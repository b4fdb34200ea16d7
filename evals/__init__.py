"""Evaluations: planner, RCA, scaling and end-to-end incidents; each prints a table and writes JSON."""
