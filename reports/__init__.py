"""Reports: timing benchmarks now; conformance tables (JSON, Markdown, HTML) and the regression
gate join with the harness. The ``tenshell`` command lives in :mod:`reports.cli`."""
