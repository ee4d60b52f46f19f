# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Worst-case inputs run through the config module in a child process: peak memory (RSS) and time are asserted.

Each case is generated up to the limits (the defaults, then every limit at its maximum): a billion-laughs alias
bomb, deep nesting, a file at the size limit full of cluster entries, a file full of errors, the largest config
whose resolved views still fit, many meshed clusters.  The child reports its own peak RSS
(``VmHWM`` of ``/proc/self/status``) and wall time; the module's result is read back from its stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ansible_collections.adhar.platform as collection
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import MAXIMUM
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import fixture, laughs

COLLECTIONS_BASE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(list(collection.__path__)[0]))))
MAX_RSS_MIB = 200
MAX_SECONDS = 60  # generous: the machine is shared; typical runs take 0.01 to 5 s

CHILD = r"""
import json, sys, time
from ansible.module_utils.testing import patch_module_args
from ansible_collections.adhar.platform.plugins.modules import config
args = json.loads(sys.argv[1])
start = time.monotonic()
code = None
with patch_module_args(args):
    try:
        config.main()
    except SystemExit as exc:
        code = exc.code
seconds = time.monotonic() - start
# VmHWM: the peak RSS of this process image (ru_maxrss would carry the parent's peak over fork and exec)
with open("/proc/self/status") as f:
    hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")][0]
sys.stderr.write("\nMEASURED " + json.dumps({"rc": code, "rss_mib": hwm / 1024.0, "seconds": seconds}) + "\n")
"""

with open(fixture("base.yaml")) as _f:
    BASE = _f.read()  # the minimal valid config: one local provider, template, environment ("dev")


def cluster_file(size, bad=False):
    """``size`` bytes of cluster entries (with two errors each when ``bad``)."""
    parts, n, i = [BASE, "clusters:\n"], len(BASE) + 10, 0
    while n < size:
        extra = ", bogus: 1, clusterId: x" if bad else ""
        line = "  - {name: c%d, role: %s, environment: dev%s}\n" % (i, "primary" if i == 0 else "replica", extra)
        parts.append(line)
        n += len(line)
        i += 1
    return "".join(parts)


def fullest_valid(nodes, size_mib, clusters=50):
    """A valid config whose resolved views come close to both budgets: a big template shared by ``clusters`` clusters."""
    views = clusters + 1
    entries = max(1, (nodes // views - 260) // 5)
    width = max(1, (size_mib * 1048576 // views - 5000) // entries - 12)
    values = "".join('          - {key: k%d, value: "%s"}\n' % (i, "v" * width) for i in range(entries))
    addon = ("    addons:\n      - name: big\n        chart: {repoURL: 'https://charts.example.org', name: big, version: 1.0.0}\n"
             "        values:\n" + values)
    members = ["  - {name: c%d, role: %s, environment: dev, clusterId: %d}\n" % (i, "primary" if i == 0 else "replica", i + 1)
               for i in range(clusters)]
    return BASE.replace("    coreServices:", addon + "    coreServices:") + "clusters:\n" + "".join(members)


def meshed(count):
    return BASE + "clusters:\n" + "".join("  - {name: c%d, role: %s, environment: dev, mesh: true}\n"
                                          % (i, "primary" if i == 0 else "replica") for i in range(count))


def run_module(tmp_path, text, **args):
    path = tmp_path / "adhar.yaml"
    path.write_text(text)
    args = dict(src=str(path), **args)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_BASE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    measured = json.loads(proc.stderr.rsplit("MEASURED ", 1)[1])
    result = json.loads(proc.stdout)
    print("%s: rc=%s rss=%.1f MiB time=%.2f s result=%d bytes, %s errors listed, %s more" % (
        args.get("action", "validate"), measured["rc"], measured["rss_mib"], measured["seconds"], len(proc.stdout),
        len(result.get("errors", [])), result.get("errors_truncated")))
    assert measured["rss_mib"] < MAX_RSS_MIB, measured
    assert measured["seconds"] < MAX_SECONDS, measured
    assert len(proc.stdout) < 64 * 1024 * 1024
    return measured["rc"], result


AT_MAX = {"limits": dict(MAXIMUM)}
SCALES = [pytest.param({}, id="defaults"), pytest.param(AT_MAX, id="maximum")]


@pytest.mark.parametrize("limits", SCALES)
def test_billion_laughs(tmp_path, limits):
    rc, res = run_module(tmp_path, laughs(levels=12), **limits)
    assert rc == 1 and len(res["errors"]) == 1
    assert "expands through aliases to more than the limit of" in res["errors"][0]["message"]


@pytest.mark.parametrize("limits", SCALES)
def test_deep_nesting(tmp_path, limits):
    rc, res = run_module(tmp_path, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 1500)), **limits)
    assert rc == 1 and res["errors"][0]["message"].startswith("nested deeper than the limit of")
    rc, res = run_module(tmp_path, "a: " + "[" * 200000 + "]" * 200000 + "\n", **limits)
    assert rc == 1 and res["errors"][0]["message"].startswith("nested deeper than the limit of")


@pytest.mark.parametrize("limits,size", [pytest.param({}, 4 * 1048576 - 100, id="defaults"),
                                         pytest.param(AT_MAX, 32 * 1048576 - 100, id="maximum")])
def test_size_limit_full_of_clusters(tmp_path, limits, size):
    rc, res = run_module(tmp_path, cluster_file(size), **limits)
    assert rc == 1 and len(res["errors"]) == 1
    assert res["errors"][0]["message"].startswith("the document has more than the limit of")
    rc, res = run_module(tmp_path, cluster_file(size + 200), **limits)
    assert rc == 1 and res["errors"][0]["message"].startswith("the file is")


@pytest.mark.parametrize("limits,size", [pytest.param({}, 380000, id="defaults"), pytest.param(AT_MAX, 3000000, id="maximum")])
def test_many_errors(tmp_path, limits, size):
    rc, res = run_module(tmp_path, cluster_file(size, bad=True), **limits)
    shown = (limits.get("limits") or {}).get("errors", 100)
    assert rc == 1 and len(res["errors"]) == shown and res["errors_truncated"] > shown
    assert res["msg"].startswith("%d errors in " % (shown + res["errors_truncated"]))


@pytest.mark.parametrize("limits,nodes,size_mib", [pytest.param({}, 100000, 4, id="defaults"),
                                                   pytest.param(AT_MAX, MAXIMUM["nodes"], MAXIMUM["size_mib"], id="maximum")])
@pytest.mark.parametrize("action", ["validate", "resolve", "convert"])
def test_fullest_valid_config(tmp_path, limits, nodes, size_mib, action):
    text = fullest_valid(nodes, size_mib)
    extra = {}
    if action == "convert":  # the same config on aws, converted to gcp
        extra = {"to_provider": "gcp"}
        text = text.replace("  kind:\n    type: kind\n    region: local\n", "  aws:\n    type: aws\n    region: us-east-1\n")
    rc, res = run_module(tmp_path, text, action=action, **dict(limits, **extra))
    assert rc == 0 and res["valid"] is True
    if action == "convert":
        assert res["config"]["providers"]["gcp"]["region"] == "us-east4"
    if action == "resolve":
        assert len(res["clusters"]) == 50


@pytest.mark.parametrize("limits,count", [pytest.param({}, 370, id="defaults"), pytest.param(AT_MAX, 1880, id="maximum")])
def test_many_meshed_clusters(tmp_path, limits, count):
    rc, res = run_module(tmp_path, meshed(count), **limits)
    assert rc == 1 and any("overlaps podCidr" in e["message"] for e in res["errors"])
