"""Subjects that regress against impl without failing a conformance check: what only
``tenshell compare`` against a baseline sees (tests/test_compare.py). Each is impl's public API
with one op changed (tests/planted/_base.py's ``plant``)."""
