# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listed pages split into kept objects, in this process and in decoder processes: the same items either way."""

from __future__ import annotations

import json
import os
import signal

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._dr import page_codec as pc


def _obj(ns, name, labels=None, **extra):
    meta = {"name": name, "labels": labels or {}}
    if ns:
        meta["namespace"] = ns
    return dict(extra, metadata=meta)


PAGE = {"kind": "ConfigMapList", "metadata": {"continue": "tok"}, "items": [
    _obj("app-1", "plain", data={"k": "v", "b": 1}),
    _obj("app-2", "unicode", data={"ключ": "värde ✓", "big": 2 ** 70, "float": 0.1, "esc": "\u2028\"\\"}),
    _obj("app-tmp", "skipped-by-exclude-glob"),
    _obj("other", "not-included"),
    _obj("app-1", "labelled", {"backup.adhar.io/exclude": "True"}),
    _obj("app-1", "kept-label-false", {"velero.io/exclude-from-backup": "false"}),
]}
INCLUDE, EXCLUDE = ["app-*"], ["app-tmp*"]


@pytest.mark.parametrize("ascii_only", [False, True])  # an ASCII page is cut in its bytes, another in its text
def test_split_page_filters_and_cuts_each_item_out_of_the_page(ascii_only):
    body = json.dumps(PAGE, ensure_ascii=ascii_only).encode()
    cont, kept = pc.split_page(body, "v1", "ConfigMap", False, False, INCLUDE, EXCLUDE, True)
    assert cont == "tok"
    assert [(ns, name) for ns, name, dummy, dummy2 in kept] == [("app-1", "plain"), ("app-2", "unicode"),
                                                                ("app-1", "kept-label-false")]
    decoded = pc.split_page(body, "v1", "ConfigMap", False, False, INCLUDE, EXCLUDE, False)[1]
    sources = [PAGE["items"][i] for i in (0, 1, 5)]
    for (dummy, dummy2, data, pvc), (dummy3, dummy4, obj, dummy5), source in zip(kept, decoded, sources):
        assert pvc is None and obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
        # the object's own text, not encoded again; the apiVersion and kind the list left out put first
        assert data == b'{"apiVersion":"v1","kind":"ConfigMap",' + json.dumps(source, ensure_ascii=ascii_only).encode()[1:]
        assert isinstance(data, bytes) and json.loads(data) == obj


def test_items_keep_the_servers_bytes_and_what_they_carry():
    # an item with its own apiVersion and kind (custom resources) is stored as it is; an empty object gets both;
    # whitespace and number spellings stay as sent
    page = (b'{"kind":"WidgetList","items":[ {"kind":"Widget","apiVersion":"x.io/v1","metadata":{"name":"a"},'
            b'"n":1.50, "big":123456789012345678901234567890} ,\n {"metadata":{"name":"b"},"kind":"Widget"},{},{ }],'
            b'"metadata":{"continue":""}}')
    cont, kept = pc.split_page(page, "x.io/v1", "Widget", False, False, ["*"], [], True)
    assert cont == ""
    assert all(isinstance(k[2], bytes) for k in kept) and [k[2] for k in kept] == [
        b'{"kind":"Widget","apiVersion":"x.io/v1","metadata":{"name":"a"},"n":1.50, "big":123456789012345678901234567890}',
        b'{"apiVersion":"x.io/v1","metadata":{"name":"b"},"kind":"Widget"}',
        b'{"apiVersion":"x.io/v1","kind":"Widget"}', b'{"apiVersion":"x.io/v1","kind":"Widget" }']
    with pytest.raises(pc.PageError, match="^an item that is no object$"):
        pc.split_page(b'{"items":[{"metadata":{}},3]}', "v1", "ConfigMap", False, False, ["*"], [], True)


def test_walk_object_is_json_loads_with_each_item_passed_through():
    text = ' {"a": [1, {"b": null}], "items": [ {"x": 1}, 2 ,"s"], "z": {"items": [3]}} '
    seen = []
    out = pc.walk_object(text, lambda value, start, end: seen.append(text[start:end]) or value)
    assert out == json.loads(text) and seen == ['{"x": 1}', "2", '"s"']
    assert pc.walk_object("{}", None) == {}
    spaced = '{"items":[{"x":1}\t,\n2,\r "s"\n]}'
    assert pc.walk_object(spaced, lambda value, start, end: spaced[start:end]) == {"items": ['{"x":1}', "2", '"s"']}
    for bad in ("[1]", "{", '{"a" 1}', '{"a": 1,}', '{"a": 1} x', '{"items": [1,]}', "", '{"items":[1', '{"items":[1,',
                '{"items":[1 ', '{"items":[1, '):
        with pytest.raises((ValueError, IndexError)):
            pc.walk_object(bad, lambda value, start, end: value)


def test_namespaces_by_their_own_name_and_pvcs_with_their_volume():
    page = {"metadata": {}, "items": [_obj(None, "app-1"), _obj(None, "app-tmp1"), _obj(None, "kube-system")]}
    kept = pc.split_page(json.dumps(page).encode(), "v1", "Namespace", True, False, INCLUDE, EXCLUDE, False)[1]
    assert [name for dummy, name, dummy2, dummy3 in kept] == ["app-1"]
    page = {"metadata": {}, "items": [_obj("app-1", "data", spec={"volumeName": "pv-1", "storageClassName": "fast"}),
                                      _obj("app-1", "pending", spec={})]}
    kept = pc.split_page(json.dumps(page).encode(), "v1", "PersistentVolumeClaim", False, True, ["*"], [], True)[1]
    assert [k[3] for k in kept] == [("pv-1", "fast"), (None, None)]


@pytest.mark.parametrize("body, token", [
    (json.dumps(PAGE).encode(), "tok"),
    (b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"a b","remainingItemCount":3},'
     b'"items":[{"metadata":{"name":"x"}}, {oops: not read}]}', "a b"),
    (b'{ "metadata" : { "resourceVersion": "9" }, "items": []}', ""),
    (b'{"metadata":{"continue":null}}', ""),
    (b'{"items":[],"metadata":{"continue":"after the items"}}', None),
    (b'{"kind":"List","items":[]}', None),
    (b'{"metadata":{"continue":"' + b"x" * pc.PAGE_HEAD + b'"},"items":[]}', None),
    (b'{"metadata":[]}', None),
    (b"not json", None),
    (b"", None),
])
def test_the_continue_token_is_read_from_the_head_of_a_page(body, token):
    """What the page's head tells, without decoding the items: the token, "" on the last page, None when it cannot
    tell (the page must then be decoded whole)."""
    assert pc.page_continue(body) == token
    if token is not None:
        whole = pc.split_page(body.replace(b"{oops: not read}", b"{}"), "v1", "ConfigMap", False, False, ["*"], [], True)
        assert (whole[0] or "") == token


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b'{"items": [{}', b"\xff{}"])
def test_a_page_that_is_no_list(body):
    with pytest.raises(pc.PageError, match="^no list$"):
        pc.split_page(body, "v1", "ConfigMap", False, False, ["*"], [], True)


def test_decoder_processes_give_the_same_items_and_survive_a_bad_page():
    body = json.dumps(PAGE).encode()
    here = pc.split_page(body, "v1", "ConfigMap", False, False, INCLUDE, EXCLUDE, True)
    with pc.DecoderPool(2, INCLUDE, EXCLUDE) as pool:
        assert pool.processes == 2 and all(os.path.exists("/proc/%d" % pid) for pid in pool.pids())
        for dummy in range(3):
            assert pool.split(body, "v1", "ConfigMap", False, False) == (here[0], [tuple(k) for k in here[1]])
        with pytest.raises(pc.PageError, match="^no list$"):
            pool.split(b"{oops", "v1", "ConfigMap", False, False)
        assert pool.split(body, "v1", "ConfigMap", False, False)[0] == "tok"
        pids = pool.pids()
    for pid in pids:  # closed: every decoder process has exited and was reaped
        assert not os.path.exists("/proc/%d" % pid)


def test_a_decoder_process_that_dies_is_an_error_not_a_hang():
    with pc.DecoderPool(1, ["*"], []) as pool:
        os.kill(pool.pids()[0], signal.SIGKILL)
        with pytest.raises(pc.PageError, match=r"^a decoder process ended \(exit code -9\)"):
            pool.split(json.dumps(PAGE).encode(), "v1", "ConfigMap", False, False)


def test_default_processes():
    assert [pc.default_processes(n) for n in (1, 2, 3, 8, 64)] == [0, 0, 1, 4, 4]


@pytest.mark.parametrize("executable, error", [("/bin/false", pc.PageError), ("/nonexistent/python", OSError)])
def test_a_decoder_process_that_cannot_start_fails_the_pool_at_once(monkeypatch, executable, error):
    monkeypatch.setattr(pc.sys, "executable", executable)
    with pytest.raises(error):
        pc.DecoderPool(2, ["*"], [])


def test_the_capture_falls_back_to_its_own_process(monkeypatch):
    from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import Capture, Filters, plan_capture
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.discovery import Resource

    class Client:
        def raw(self, method, path, query=None, decode=True):
            return 200, json.dumps(PAGE if not query.get("continue") else {"metadata": {}, "items": []}).encode()

    class Writer:
        encoded_objects = True

        def __init__(self):
            self.items = {}

        def submit_many(self, entries):
            self.items.update((path, data) for path, data, dummy, dummy2 in entries)

    monkeypatch.setattr(pc.sys, "executable", "/bin/false")
    res = Resource("", "v1", "ConfigMap", "configmaps", True, ("list",))
    filters = Filters(include_namespaces=INCLUDE, exclude_namespaces=EXCLUDE)
    writer = Writer()
    capture = Capture(Client(), filters, plan_capture([(res, ())], filters), writer, decoders=1)
    capture.run()
    assert capture.decoders == 0
    assert capture.warnings == ["decoder processes could not start (a decoder process ended (exit code 1)): the pages "
                                "were decoded in the module's process"]
    assert sorted(writer.items) == ["resources/configmaps/namespaces/app-1/kept-label-false.json",
                                    "resources/configmaps/namespaces/app-1/plain.json",
                                    "resources/configmaps/namespaces/app-2/unicode.json"]


def _cgroup(tmp_path, proc, files):
    (tmp_path / "proc").write_text(proc)
    for name, text in files.items():
        path = tmp_path / "fs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"root": str(tmp_path / "fs"), "proc_cgroup": str(tmp_path / "proc")}


@pytest.mark.parametrize("proc, files, want", [
    ("0::/kubepods/pod1\n", {"kubepods/pod1/cpu.max": "150000 100000\n"}, 2),   # v2: 1.5 CPUs, rounded up
    ("0::/\n", {"cpu.max": "100000 100000\n"}, 1),                                # v2 in a container: its own root
    ("0::/user.slice\n", {"user.slice/cpu.max": "max 100000\n"}, None),           # v2: no quota
    ("4:memory:/x\n3:cpu,cpuacct:/docker/abc\n",  # v1
     {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"}, 1),
    ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),  # v1: no quota
    ("0::/gone\n", {}, None),                                                     # nothing readable
])
def test_cpu_quota(tmp_path, proc, files, want):
    assert pc.cpu_quota(**_cgroup(tmp_path, proc, files)) == want


def test_usable_cpus_is_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(pc.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(pc, "cpu_quota", lambda: 1)
    assert pc.usable_cpus() == 1 and pc.default_processes() == 0
    monkeypatch.setattr(pc, "cpu_quota", lambda: None)
    assert pc.usable_cpus() == 4 and pc.default_processes() == 2
