"""The op registry (OpSpec), Hypothesis strategies, tolerance policy and the checks."""
