# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real supervisord running small Python programs: restart after kill -9, ordered stop, orphans of a killed
supervisord found and stopped, config rendering."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import procs, supervisor
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st

SLEEPER = [sys.executable, "-c", "import time, signal, sys; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
           "print('up', flush=True); time.sleep(600)"]


def _layout(tmp_path, name="sv"):
    layout = st.Layout(str(tmp_path), name)
    for sub in ("config", "run", "logs"):
        os.makedirs(layout.sub(sub), exist_ok=True)
    return layout


def _wait(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


@pytest.fixture
def sup(tmp_path):
    layout = _layout(tmp_path)
    s = supervisor.Supervisor(layout)
    yield s
    s.kill()


def _all_running(s, names):
    states = s.states() or {}
    return all((states.get(n) or {}).get("state") == "RUNNING" for n in names) and states


def test_render_quotes_and_escapes(tmp_path):
    layout = _layout(tmp_path / "a dir%x")
    text = supervisor.Supervisor(layout).render({"etcd-0": ["/bin/echo", "a b", "50%"], "haproxy": ["/bin/true"]}, {})
    assert "[program:etcd-0]" in text and "[program:haproxy]" in text
    line = next(x for x in text.splitlines() if x.startswith("command=") and "echo" in x)
    # supervisord %-expands values, then splits the command with shlex; the shell execs the program with its output
    # appended to its log
    sh = shlex.split(line[len("command="):].replace("%%", "%"))
    assert sh[:2] == ["/bin/sh", "-c"] and shlex.split(sh[2])[:4] == ["exec", "/bin/echo", "a b", "50%"]
    assert shlex.split(sh[2])[4:] == [">>" + os.path.join(layout.log_dir, "etcd-0.log"), "2>&1"]
    assert "autorestart=true" in text and "stopsignal=TERM" in text and "autostart=false" in text
    assert "dir%%x" in text and "dir%x" not in text.replace("%%", "")


def test_long_state_dir_gets_a_short_socket(tmp_path):
    deep = tmp_path / ("d" * 120)
    s = supervisor.Supervisor(st.Layout(str(deep), "c"))
    assert len(s.socket_path) <= 100 and s.socket_path.endswith(".sock")
    assert supervisor.Supervisor(st.Layout(str(deep), "d")).socket_path != s.socket_path


def test_missing_package_is_one_clear_error(monkeypatch):
    import importlib.util

    from ansible_collections.adhar.platform.plugins.module_utils._common import core
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(core, "library_version", lambda name: None)
    with pytest.raises(AdharError) as e:
        supervisor.require_package()
    assert "supervisor" in str(e.value) and "pip install 'supervisor>=4.2'" in str(e.value)
    assert e.value.details["library"] == "supervisor" and e.value.details["library_version"] is None


def test_restart_after_kill_ordered_stop_and_orphans(sup):
    programs = {"etcd-0": SLEEPER, "apiserver-0": SLEEPER, "kwok": SLEEPER}
    order = [["kwok"], ["apiserver-0"], ["etcd-0"]]
    assert sup.start_daemon(programs, time.monotonic() + 30, order) == []
    assert sup.daemon_running() and os.path.exists(sup.socket_path)
    sup.start(list(programs))
    states = _wait(lambda: _all_running(sup, programs), what="programs RUNNING")
    sup.record_children(states)
    rec = procs.read_pidfile(sup.layout.pidfile("etcd-0"))
    assert rec["pid"] == states["etcd-0"]["pid"] and procs.is_running(rec)
    # starting again is a no-op
    sup.start(list(programs))
    assert sup.states()["etcd-0"]["pid"] == rec["pid"]

    # kill -9 of a program: supervisord starts it again, with a new pid, by itself
    os.kill(rec["pid"], signal.SIGKILL)
    t = time.monotonic()
    new = _wait(lambda: (sup.states()["etcd-0"]["state"] == "RUNNING" and sup.states()["etcd-0"]["pid"] != rec["pid"]
                         and sup.states()["etcd-0"]), what="etcd-0 restarted")
    assert time.monotonic() - t < 10 and new["pid"] != rec["pid"]
    assert "up" in procs.log_tail(os.path.join(sup.layout.log_dir, "etcd-0.log"))

    # kill -9 of supervisord: its children keep running and are found (marker and records), then stopped
    states = sup.states()
    sup.record_children(states)
    daemon = sup.record()
    os.kill(daemon["pid"], signal.SIGKILL)
    _wait(lambda: not sup.daemon_running(), what="supervisord gone")
    children = {c["name"]: c["pid"] for c in sup.children()}
    assert children == {n: states[n]["pid"] for n in programs}, (children, states)
    # a new supervisord stops the orphans first (by pid) and then runs the programs again
    stopped = sup.start_daemon(programs, time.monotonic() + 30, order)
    assert sorted(stopped) == sorted(programs)
    assert not any(procs.proc_stat(p) and procs.proc_stat(p)[0] not in ("Z", "X") for p in children.values())
    sup.start(list(programs))
    _wait(lambda: _all_running(sup, programs), what="programs RUNNING under the new supervisord")

    # ordered stop, then shutdown: nothing of the cluster is left
    seen = []
    stopped = sup.stop_programs(order, after_group=lambda: seen.append(
        sorted(n for n, i in (sup.states() or {}).items() if i["state"] == "RUNNING")))
    assert stopped == ["kwok", "apiserver-0", "etcd-0"]
    assert seen == [["apiserver-0", "etcd-0"], ["etcd-0"], []]
    sup.shutdown()
    assert not sup.daemon_running() and sup.children() == [] and sup.states() is None


def test_config_change_applies_to_stopped_programs(sup):
    programs = {"kwok": SLEEPER}
    sup.start_daemon(programs, time.monotonic() + 30, [["kwok"]])
    changed = {"kwok": SLEEPER[:-1] + [SLEEPER[-1].replace("'up'", "'up2'")], "haproxy": SLEEPER}
    sup.reload_if_changed(changed)
    assert set(sup.states()) == {"kwok", "haproxy"}
    sup.start(["kwok", "haproxy"])
    _wait(lambda: _all_running(sup, ["kwok", "haproxy"]), what="RUNNING")
    _wait(lambda: "up2" in procs.log_tail(os.path.join(sup.layout.log_dir, "kwok.log")), what="new command")


def test_program_that_cannot_start_goes_backoff_then_is_reported(sup):
    failing = [sys.executable, "-c", "import sys; print('bad flag', flush=True); sys.exit(3)"]
    sup.start_daemon({"kwok": failing}, time.monotonic() + 30, [["kwok"]])
    sup.start(["kwok"])
    _wait(lambda: (sup.states()["kwok"]["state"] in ("BACKOFF", "FATAL")), what="BACKOFF")
    report = supervisor.state_report(sup.layout)
    assert report["running"] is True and report["programs"]["kwok"]["state"] in ("BACKOFF", "FATAL", "STARTING")
    _wait(lambda: "bad flag" in (supervisor.state_report(sup.layout)["programs"]["kwok"].get("log_tail") or ""),
          what="log tail")


def test_a_supervisord_whose_pidfile_was_lost_is_stopped_before_a_new_one(sup):
    programs = {"kwok": SLEEPER}
    sup.start_daemon(programs, time.monotonic() + 30, [["kwok"]])
    sup.start(["kwok"])
    states = _wait(lambda: _all_running(sup, ["kwok"]), what="RUNNING")
    old_daemon = sup.record()
    os.unlink(sup.layout.pidfile("supervisord"))
    assert not sup.daemon_running()
    found = {c["name"]: c["pid"] for c in sup.children()}
    assert found == {"supervisord": old_daemon["pid"], "kwok": states["kwok"]["pid"]}
    stopped = sup.start_daemon(programs, time.monotonic() + 30, [["kwok"]])
    # SIGTERM to the old supervisord stops its programs too; whatever it left is stopped after it
    assert stopped[0] == "supervisord" and set(stopped) <= {"supervisord", "kwok"}
    assert not procs.is_running(old_daemon) and procs.proc_stat(states["kwok"]["pid"]) is None
    sup.start(["kwok"])
    new = _wait(lambda: _all_running(sup, ["kwok"]), what="RUNNING under the new supervisord")
    assert new["kwok"]["pid"] != states["kwok"]["pid"]
    assert sorted(c["name"] for c in sup.children()) == ["kwok", "supervisord"]  # the running ones, both marked
