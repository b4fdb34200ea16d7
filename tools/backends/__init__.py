"""Backends the tools run against: the embedded simulator (default) and real systems."""
