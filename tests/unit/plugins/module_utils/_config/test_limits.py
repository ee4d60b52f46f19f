# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded reading: size, values once aliases are expanded, aliases, depth, the error list, the resolved views."""

from __future__ import annotations

import ipaddress
import random
import time

import pytest
import yaml

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config import loader
from ansible_collections.adhar.platform.plugins.module_utils._config import validate as V
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import DEFAULTS, MAXIMUM, Limits
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import format_path, names
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import base, fixture, laughs


def refused(text, **limits):
    with pytest.raises(loader.ConfigInvalid) as info:
        loader.parse(text, name="f.yaml", limits=Limits(**limits))
    assert len(info.value.errors) == 1
    return info.value


def test_billion_laughs_is_one_error_at_once():
    start = time.monotonic()
    exc = refused(laughs())
    assert time.monotonic() - start < 2
    err = exc.errors[0]
    assert err["message"] == ("the list at line 6 expands through aliases to more than the limit of 100000 values "
                              "(raise it with limits.nodes, at most 500000)")
    assert err["line"] == 6 and err["path"] == "l5"
    assert exc.msg.startswith("f.yaml at l5 (line 6, column 5): the list at line 6 expands")


def test_aliases_within_the_limits_are_expanded():
    src = loader.parse(laughs(levels=3, width=3))
    assert src.data["l2"] == [[["lol"] * 3] * 3] * 3
    assert src.line_of(("l2", 2, 2, 0)) == 1  # the expanded value keeps the line where it was written


def test_recursive_anchor_says_so():
    for text, path in (("a: &x [*x]\n", "a[0]"), ("a: &x {b: *x}\n", "a.b"), ("a: &x\n  - [1, *x]\n", "a[0][1]")):
        err = refused(text).errors[0]
        assert err["path"] == path and err["message"].startswith("recursive anchor: alias *x refers to the node &x that contains it")


@pytest.mark.parametrize("text", [
    "a: " + "[" * 65 + "]" * 65 + "\n",
    "a:\n" + "".join("  " * i + "- \n" for i in range(1, 70)),
    "a: " + "{b: " * 65 + "1" + "}" * 65 + "\n",
    "a: " + "[" * 100000 + "]" * 100000 + "\n",
])
def test_deep_nesting_is_not_a_recursive_anchor(text):
    err = refused(text).errors[0]
    assert "recursive" not in err["message"]
    assert err["message"] == "nested deeper than the limit of 64 levels (raise it with limits.depth, at most 100)"
    assert err["line"] >= 1 and err["column"] >= 1


def test_depth_at_the_limit_passes_and_can_be_raised():
    assert loader.parse("a: " + "[" * 63 + "]" * 63 + "\n").data["a"] is not None  # 64 levels with the root mapping
    refused("a: " + "[" * 64 + "]" * 64 + "\n")
    deep = loader.parse("a: " + "[" * 99 + "]" * 99 + "\n", limits=Limits(depth=100))
    V.validate(deep)  # no RecursionError anywhere in validation at the maximum depth


def test_depth_through_aliases():
    text = "l0: &l0 [1]\n" + "".join("l%d: &l%d [*l%d]\n" % (i, i, i - 1) for i in range(1, 70))
    err = refused(text).errors[0]
    assert err["message"].startswith("alias *l62 is nested deeper than the limit of 64 levels") and err["line"] == 64


def test_alias_count():
    text = "a: &a 1\nb: [%s]\n" % ", ".join(["*a"] * 1001)
    err = refused(text).errors[0]
    assert err["message"] == "the document uses more than the limit of 1000 aliases (raise it with limits.aliases, at most 100000)"
    assert len(loader.parse(text, limits=Limits(aliases=2000)).data["b"]) == 1001


def test_values_without_aliases():
    text = "a: [%s]\n" % ", ".join(["1"] * 200)
    err = refused(text, nodes=100).errors[0]
    assert err["message"] == "the document has more than the limit of 100 values (raise it with limits.nodes, at most 500000)"
    assert err["path"] == "a[97]"  # the root mapping, its key and the list come first


def test_size_limit_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * (4 * 1024 * 1024))
    with pytest.raises(loader.ConfigInvalid) as info:
        loader.load_file(str(big))
    assert info.value.errors[0]["message"] == "the file is 4.0 MiB, more than the limit of 4 MiB (raise it with limits.size_mib, at most 32)"
    assert loader.load_file(str(big), limits=Limits(size_mib=5)).data == {"a": 1}
    # text that is not a regular file is counted while it is read
    err = refused("a: '%s'\n" % ("x" * (1024 * 1024)), size_mib=1).errors[0]
    assert err["message"] == "the file is larger than the limit of 1 MiB (raise it with limits.size_mib, at most 32)"


def test_directory_and_not_utf8(tmp_path):
    with pytest.raises(AdharError, match="is a directory, not a config file"):
        loader.load_file(str(tmp_path))
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: '" + b"x" * 100000 + b"\xff'\n")
    with pytest.raises(loader.ConfigInvalid, match=r"the file is not UTF-8 text \(byte 100009\)"):
        loader.load_file(str(bad))


@pytest.mark.parametrize("value,message", [
    ({"depth": 0}, "limits.depth: must be a whole number from 1 to 100 (got 0)"),
    ({"size_mib": 33}, "limits.size_mib: must be a whole number from 1 to 32 (got 33)"),
    ({"nodes": True}, "limits.nodes: must be a whole number from 1 to 500000 (got True)"),
    ({"files": 3}, "limits: unknown limit files; known: size_mib, nodes, aliases, depth, errors"),
    ([1], "limits: must be a mapping of limits (size_mib, nodes, aliases, depth, errors), not [1]"),
])
def test_limit_values_are_checked(value, message):
    with pytest.raises(AdharError) as info:
        Limits.from_option(value)
    assert info.value.msg == message


def test_defaults_and_maxima():
    assert Limits.from_option(None).as_dict() == DEFAULTS
    assert Limits.from_option(dict(MAXIMUM)).as_dict() == MAXIMUM
    assert Limits.from_option({"depth": None}).depth == 64


def test_content_is_bounded_too():
    deep = {}
    node = deep
    for dummy in range(70):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(loader.ConfigInvalid, match="nested deeper than the limit of 64 levels"):
        loader.from_data(deep)
    with pytest.raises(loader.ConfigInvalid, match="the config has more than the limit of 10 values"):
        loader.from_data({"a": list(range(20))}, limits=Limits(nodes=10))


def test_merge_keys_override_without_duplicate_errors():
    src = loader.parse("base: &b {a: 1, x: 3}\nother:\n  <<: *b\n  a: 2\n")
    assert src.data["other"] == {"x": 3, "a": 2} and src.errors == []
    src = loader.parse("a: 1\nb:\n  <<: 3\n  c: 1\n")
    assert src.errors == [{"path": 'b["<<"]', "message": "a merge key (<<) takes a mapping or a list of mappings, not a scalar", "line": 3}]


def test_error_list_is_capped_with_a_count_of_the_rest():
    cfg = base()
    cfg["environments"]["dev"]["clusterConfig"] = [{"key": "k%d" % i, "value": i} for i in range(250)]
    text = loader.parse(_dump(cfg))
    report = V.validate(text)
    assert len(report.errors) == 100 and report.errors_truncated == 150
    lines = [e["line"] for e in report.errors]
    assert lines == sorted(lines) and report.errors[0]["path"] == "environments.dev.clusterConfig[0].value"
    with pytest.raises(loader.ConfigInvalid) as info:
        report.raise_if_invalid()
    assert info.value.errors_truncated == 150 and info.value.msg.startswith("250 errors in content: ")
    assert info.value.msg.endswith("... and 245 more (see errors)")
    report = V.validate(loader.parse(_dump(cfg), limits=Limits(errors=1000)))
    assert len(report.errors) == 250 and report.errors_truncated == 0


def _dump(cfg):
    return yaml.safe_dump(cfg, sort_keys=False)


def test_resolved_views_are_bounded():
    cfg = base()
    cfg["environmentTemplates"]["dev-defaults"]["addons"] = [
        {"name": "a%d" % i, "chart": {"repoURL": "https://charts.example.org", "name": "a", "version": "1.0.0"}} for i in range(400)]
    cfg["clusters"] = [{"name": "c%d" % i, "role": "primary" if i == 0 else "replica"} for i in range(60)]
    report = V.validate(loader.from_data(cfg))
    assert [(e["path"], e["message"]) for e in report.errors] == [(
        "clusters", "the resolved views of the 61 environments and clusters (each with a copy of its environment's template, core "
                    "services, addons and provider config) would hold more than the limit of 100000 values (raise it with "
                    "limits.nodes, at most 500000)")]
    assert V.validate(loader.from_data(cfg, limits=Limits(nodes=200000))).errors == []
    # the text of the views counts too: a long value copied into every cluster
    cfg["environmentTemplates"]["dev-defaults"]["addons"] = [
        {"name": "big", "chart": {"repoURL": "https://charts.example.org", "name": "x" * 100000, "version": "1.0.0"}}]
    report = V.validate(loader.from_data(cfg))
    assert report.errors[0]["message"].endswith("would hold more text than the size limit, the limit of 4 MiB "
                                                "(raise it with limits.size_mib, at most 32)")


def test_mesh_overlaps_index_matches_pairwise_comparison():
    rng = random.Random(7)
    nets = []
    for dummy in range(300):
        nets.append(ipaddress.ip_network((0x0A000000 | rng.getrandbits(24), rng.randint(12, 28)), strict=False))
    index = V._Networks()
    for i, net in enumerate(nets):
        hit = index.overlapping(net)
        earlier = [n for n in nets[:i] if n.overlaps(net)]
        assert (hit is None) == (not earlier)
        if hit:
            assert hit[0].overlaps(net) and hit[1] < i
        index.add(net, i)


def test_many_meshed_clusters_one_error_per_overlap_kind():
    cfg = base()
    cfg["clusters"] = [{"name": "c%d" % i, "role": "primary" if i == 0 else "replica", "mesh": True, "clusterId": i + 1}
                       for i in range(200)]
    report = V.validate(loader.from_data(cfg, limits=Limits(errors=10000)))
    overlaps = [e for e in report.errors if "overlaps" in e["message"]]
    assert len(overlaps) == 199  # every cluster but the first: same default pod network as an earlier one
    assert overlaps[0]["message"] == ("podCidr 10.244.0.0/16 of 'c1' overlaps podCidr 10.244.0.0/16 of 'c0'; clusters in the "
                                      "mesh need distinct pod networks")


def test_messages_stay_short():
    assert names(["a", "b"]) == "a, b"
    assert names(["n%d" % i for i in range(30)]).endswith("n19, ... (30 in all)")
    assert format_path(("providers", "k" * 1000, "type")) == 'providers["%s...(1000 characters)"].type' % ("k" * 64)
    assert V.validate(loader.parse("- 1\n")).errors[0]["message"] == "must be a mapping, not a list"


def test_seed_fixture_still_loads_with_the_c_parser():
    assert loader.load_file(fixture("base.yaml")).data["providers"]["kind"]["type"] == "kind"


@pytest.fixture
def pure_python_parser(monkeypatch):
    """The loader without libyaml (PyYAML's pure-Python parser), as on a host whose PyYAML lacks the C extension."""

    class Pure(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    Pure.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    monkeypatch.setattr(loader, "_LOADER", [Pure])


def test_same_bounds_without_libyaml(pure_python_parser):
    assert "expands through aliases" in refused(laughs()).errors[0]["message"]
    assert refused("a: &x [*x]\n").errors[0]["message"].startswith("recursive anchor")
    assert refused("a: " + "[" * 5000 + "]" * 5000 + "\n").errors[0]["message"].startswith("nested deeper than the limit of 64")
    assert refused("a: &a 1\nb: [%s]\n" % ", ".join(["*a"] * 1001)).errors[0]["message"].startswith("the document uses more")
    src = loader.parse("version: 2026-01-02\nbase: &b {a: 1}\nother: {<<: *b, c: 2}\n")
    assert src.data == {"version": "2026-01-02", "base": {"a": 1}, "other": {"a": 1, "c": 2}}
    assert refused("a: [1, 2\n").errors[0]["message"].startswith("YAML syntax error at line 2")
