"""Environment defaults for the test suite, loaded as a pytest plugin (`-p tests.environment`).

pytest-django reads Django's settings before any conftest.py is imported, and Patron's settings
read the environment once; so the suite's own data directory, its in-process task backend and its
secret key must be set here, in a plugin imported before that, not in tests/conftest.py. Otherwise
every run on a machine shares ./patron-data/test_patron.sqlite3 and the `db` task backend.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PATRON_DATA_DIR", tempfile.mkdtemp(prefix="patron-test-"))
os.environ.setdefault("PATRON_TASK_BACKEND", "immediate")
os.environ.setdefault("PATRON_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
