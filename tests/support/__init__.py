"""Helpers shared by the tests: AuditSets, audit stores, study specifications, dataset files.

Test modules and conftest files import helpers from here, never from each other: a conftest
holds only fixtures, a test module only tests.

- :mod:`tests.support.audits`: small AuditSets (``make_audit``, ``tiny_audit``).
- :mod:`tests.support.synthetic`: a seeded AuditSet whose confidences carry signal.
- :mod:`tests.support.planted`: planted failures on real ODIR metadata (subgroups, slices).
- :mod:`tests.support.stores`: prepared audit stores for the viewer.
- :mod:`tests.support.studies`: study specifications.
- :mod:`tests.support.datasets`: dataset files in the layout of the real downloads.
- :mod:`tests.support.training`: trainer settings that keep tests fast.
"""
