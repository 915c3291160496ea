"""``tikguard serve`` as a cluster test's worker: ``python cluster_worker.py PORT``.

Exactly the ``tikguard serve`` command (settings from the ``TIKGUARD_*`` environment),
except that with ``TIKGUARD_TEST_CRASH_AT`` set it SIGKILLs itself the first time one
of its pushes reaches that point (see crashpoints.py), after writing the time of death
to ``$TIKGUARD_DATA_DIR/died``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from crashpoints import install_crash

from tikguard.cli import app

point = os.environ.get("TIKGUARD_TEST_CRASH_AT", "none")
if point != "none":
    install_crash(point, died=Path(os.environ["TIKGUARD_DATA_DIR"]) / "died")
app(["serve", "--port", sys.argv[1]])
