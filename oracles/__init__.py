"""Backends that compute an op's outputs and VJPs: torch, jax, finite differences, subjects."""
