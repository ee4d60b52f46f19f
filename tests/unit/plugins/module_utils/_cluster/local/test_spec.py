# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import immutable_changes, normalize, default_state_root

V = "v1.36.3"


def n(**kw):
    kw.setdefault("name", "c1")
    return normalize(kw, V)


def test_defaults():
    s = n()
    assert s["control_plane_count"] == 1 and s["nodes_count"] == 1 and s["cluster_id"] == 1
    assert s["kubernetes_version"] == V and s["pod_cidr"] == "10.244.0.0/16" and s["service_cidr"] == "10.96.0.0/16"
    assert s["encryption_at_rest"] is None and s["audit_policy"] is None


def test_ha_shortcut_and_counts():
    assert n(ha=True)["control_plane_count"] == 3
    assert n(control_plane={"count": 5})["control_plane_count"] == 5
    assert n(ha=True, control_plane={"count": 5})["control_plane_count"] == 5


@pytest.mark.parametrize("count,needle", [(2, "even number"), (4, "even number"), (7, "1, 3 and 5"), (0, "even")])
def test_bad_counts(count, needle):
    with pytest.raises(AdharError) as e:
        n(control_plane={"count": count})
    assert needle in e.value.msg and e.value.details["option"] == "control_plane.count"


@pytest.mark.parametrize("name", ["", "A", "a_b", "-a", "a-", "x" * 33, None])
def test_bad_names(name):
    with pytest.raises(AdharError) as e:
        normalize({"name": name}, V)
    assert "not a valid cluster name" in e.value.msg


def test_conflicts_and_ranges():
    with pytest.raises(AdharError, match="conflicts"):
        n(ha=True, control_plane={"count": 1})
    with pytest.raises(AdharError, match="conflicts"):
        n(ha=False, control_plane={"count": 3})
    with pytest.raises(AdharError, match="cluster_id: 0"):
        n(cluster_id=0)
    with pytest.raises(AdharError, match="overlaps"):
        n(pod_cidr="10.96.0.0/12")
    with pytest.raises(AdharError, match="not a valid network CIDR"):
        n(pod_cidr="10.244.0.1/16")
    with pytest.raises(AdharError, match="IPv4"):
        n(service_cidr="fd00::/108")
    with pytest.raises(AdharError, match="too small"):
        n(pod_cidr="10.244.0.0/26")
    with pytest.raises(AdharError, match="kubernetes_version"):
        n(kubernetes_version="latest")
    with pytest.raises(AdharError, match="nodes.count"):
        n(nodes={"count": -1})
    with pytest.raises(AdharError, match="etcd_quota_bytes"):
        n(etcd_quota_bytes=1024)


def test_version_gets_v_prefix():
    assert n(kubernetes_version="1.36.3")["kubernetes_version"] == "v1.36.3"


def test_encryption_and_audit():
    s = n(encryption_at_rest={"enabled": True, "provider": "aescbc", "resources": ["secrets", "configmaps", "secrets"]},
          audit_policy={"enabled": True})
    assert s["encryption_at_rest"] == {"provider": "aescbc", "resources": ["configmaps", "secrets"]}
    assert s["audit_policy"]["policy"]["kind"] == "Policy"
    assert n(encryption_at_rest={"enabled": False})["encryption_at_rest"] is None
    with pytest.raises(AdharError, match="audit_policy.policy"):
        n(audit_policy={"enabled": True, "policy": {"kind": "Nope"}})


def test_immutable_changes():
    a = n()
    assert immutable_changes(a, n(nodes={"count": 5})) == []
    ch = immutable_changes(a, n(cluster_id=7))
    assert ch == [("cluster_id", 1, 7)]
    assert immutable_changes(a, n(api_port=25000)) == []  # no fixed port saved: any allocated one is fine
    assert immutable_changes(n(api_port=25000), n(api_port=25001)) == [("api_port", 25000, 25001)]
    # audit logging is set when the API servers first start: asking for it later is refused, not ignored
    on = n(audit_policy={"enabled": True})
    assert immutable_changes(a, on) == [("audit_policy", None, "on (4 policy rules, max_size_mb 100, max_backups 3)")]
    assert immutable_changes(on, on) == []
    assert immutable_changes(on, n(audit_policy={"enabled": True, "max_backups": 5}))[0][0] == "audit_policy"


def test_default_state_root():
    assert default_state_root({"ADHAR_STATE_DIR": "/x/y"}) == "/x/y"
    assert default_state_root({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == "/s/adhar"


def test_left_out_options_keep_saved_values():
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import given_fields, merge_saved
    saved = n(ha=True, nodes={"count": 3}, cluster_id=4, encryption_at_rest={"enabled": True})
    params = {"name": "c1"}
    desired = merge_saved(n(**params), given_fields(params), saved)
    assert desired == saved and immutable_changes(saved, desired) == []
    params = {"name": "c1", "nodes": {"count": 5}, "cluster_id": 4}
    desired = merge_saved(n(**params), given_fields(params), saved)
    assert desired["nodes_count"] == 5 and desired["control_plane_count"] == 3 and immutable_changes(saved, desired) == []
    params = {"name": "c1", "control_plane": {"count": 1}}
    desired = merge_saved(n(**params), given_fields(params), saved)
    assert immutable_changes(saved, desired) == [("control_plane_count", 3, 1)]
    assert given_fields({"name": "x", "ha": False, "etcd_unsafe_no_fsync": False}) == {"control_plane_count", "etcd_unsafe_no_fsync"}


def test_metrics_server_is_off_by_default_and_can_change():
    assert n()["metrics_server"] is False and n(metrics_server=True)["metrics_server"] is True
    saved = n()
    del saved["metrics_server"]  # a cluster saved before the option existed
    assert immutable_changes(saved, n(metrics_server=True)) == []
