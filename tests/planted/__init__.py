"""Planted-bug subjects: each module re-exports impl's public API with exactly one defect.

They are the harness's own test: ``tenshell conform --subject tests.planted.<name>`` must report
an unexpected failure of the op the module names in ``AFFECTS``, in the check ``EXPECT_CHECK``
(see tests/test_harness_meta.py). :mod:`tests.planted._base` builds the namespaces.
"""
