# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a benchmark keeps its figures: one JSON file per run in benchmarks/results/ (gitignored)."""

from __future__ import annotations

import json
import os
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def save_results(name, out):
    """Write ``out`` to ``benchmarks/results/<name>-<UTC time>.json``; return the path."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "%s-%s.json" % (name, time.strftime("%Y%m%d-%H%M%S", time.gmtime())))
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    return path
