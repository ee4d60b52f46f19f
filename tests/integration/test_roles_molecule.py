# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's Molecule scenarios (delegated driver, real local clusters): converge, idempotence, verify, destroy."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(glob.glob(os.path.join(REPO, "roles", "*", "molecule", "*", "molecule.yml")))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[os.path.relpath(os.path.dirname(s), REPO) for s in SCENARIOS])
def test_molecule_scenario(scenario, runner):
    role_dir = os.path.dirname(os.path.dirname(os.path.dirname(scenario)))
    name = os.path.basename(os.path.dirname(scenario))
    env = runner.env()
    molecule = shutil.which("molecule", path=env["PATH"]) or os.path.join(os.path.dirname(sys.executable), "molecule")
    proc = subprocess.run([molecule, "test", "-s", name], cwd=role_dir, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, "molecule test -s %s in %s failed:\n%s\n%s" % (
        name, role_dir, proc.stdout[-8000:], proc.stderr[-4000:])
