# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ee/execution-environment.yml: `ansible-builder create` makes a build context (no container engine needed) whose
galaxy stage installs the collection tarball, and whose own introspection script, run on that collection as the
builder stage runs it, finds the Python requirements (requirements.txt) and the runtime system packages (bindep.txt,
through meta/execution-environment.yml), never the development ones (bindep-dev.txt)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def tool(name):
    path = shutil.which(name, path=BIN + os.pathsep + os.environ.get("PATH", ""))
    if path is None:
        pytest.skip("%s is not installed (make venv)" % name)
    return path


def entries(path):
    with open(path) as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def test_collection_metadata_names_the_runtime_files():
    with open(os.path.join(REPO, "meta", "execution-environment.yml")) as f:
        meta = yaml.safe_load(f)
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    runtime = {e.split()[0] for e in entries(os.path.join(REPO, "bindep.txt"))}
    dev = {e.split()[0] for e in entries(os.path.join(REPO, "bindep-dev.txt"))}
    assert {"haproxy", "openssl", "postgresql-client", "pgbouncer"} <= runtime and "cron" not in runtime
    assert {"postgresql", "cron"} <= dev


def test_ansible_builder_create(tmp_path):
    ee = tmp_path / "ee"
    ee.mkdir()
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(os.path.join(REPO, "ee", name), ee / name)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "none"), HOME=str(tmp_path))
    subprocess.run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(ee), REPO],
                   env=env, check=True, capture_output=True, text=True)
    built = [p for p in os.listdir(ee) if p.startswith("adhar-platform-") and p.endswith(".tar.gz")]
    assert len(built) == 1
    os.rename(ee / built[0], ee / "adhar-platform.tar.gz")

    context = tmp_path / "context"
    proc = subprocess.run([tool("ansible-builder"), "create", "-f", str(ee / "execution-environment.yml"), "--context",
                           str(context), "--output-filename", "Containerfile"],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(context / "Containerfile") as f:
        containerfile = f.read()
    assert "quay.io/centos/centos:stream9" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile and "ansible-core>=2.19.14,<2.20" in containerfile
    with open(context / "_build" / "requirements.yml") as f:
        assert yaml.safe_load(f) == {"collections": [{"name": "collections/adhar-platform.tar.gz", "type": "file"}]}
    tarball = context / "_build" / "collections" / "adhar-platform.tar.gz"
    assert tarball.is_file()

    # the galaxy stage (WORKDIR /build: the requirement's relative path), then the builder stage's introspection
    installed = tmp_path / "collections"
    subprocess.run([tool("ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(installed),
                    "-r", "requirements.yml"], cwd=context / "_build", env=env, check=True, capture_output=True)
    proc = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           str(installed)], capture_output=True, text=True, check=True)
    found = yaml.safe_load(proc.stdout)
    python = [r.split("#")[0].strip() for r in found["python"]]
    system = [r.split("#")[0].strip() for r in found["system"]]
    assert "kubernetes>=28.1.0" in python and "supervisor>=4.2" in python and "boto3>=1.34.0" in python
    assert system == entries(os.path.join(REPO, "bindep.txt"))
    assert not any(s.startswith(("cron", "postgresql-server")) for s in system)
