# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory hosts of an adhar config: one per cluster (``clusters:``) or per environment.

``inventory_hosts(cfg, ...)`` returns ``[(name, hostvars, groups)]``; the
``adhar.platform.clusters`` inventory plugin only adds them to the inventory.
The hostvar names are a stable interface (docs/config.md lists them): the
deploy playbook and roles read them.
"""

from __future__ import annotations

import os
import re

from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import default_state_root

ALL_GROUP = "clusters"
LOCAL_GROUP = "local"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")

# Every hostvar the plugin sets (besides ansible_connection / ansible_python_interpreter).
HOSTVARS = (
    "adhar_cluster_name", "adhar_environment", "adhar_environment_type", "adhar_template", "adhar_role",
    "adhar_provider", "adhar_provider_type", "adhar_region", "adhar_ha", "adhar_control_plane_count",
    "adhar_nodes_count", "adhar_kubernetes_version", "adhar_instance_type", "adhar_pod_cidr", "adhar_service_cidr",
    "adhar_cluster_id", "adhar_mesh", "adhar_core_services", "adhar_addons", "adhar_cluster_config",
    "adhar_global_settings", "adhar_backup", "adhar_config_file", "adhar_local_cluster", "adhar_kubeconfig",
    "adhar_context", "adhar_state_dir", "adhar_connection",
)

# Set only when they have a value, so that ``is defined`` means "has one": a host without a local cluster has no
# ``adhar_local_cluster`` at all (never a null one).
OPTIONAL_HOSTVARS = ("adhar_local_cluster", "adhar_kubeconfig", "adhar_context", "adhar_state_dir")


def group_name(prefix, value):
    """``provider_aws``, ``region_us_east_1``: a safe group name."""
    return "%s_%s" % (prefix, _UNSAFE.sub("_", str(value)))


def connection(target, state_dir=None):
    """The Kubernetes connection of one resolved target, resolved here and nowhere else.

    Returns the ``adhar_connection`` dict: the options of the ``group/adhar.platform.k8s`` action group that
    reach the cluster (``kubeconfig``, ``context``), only those that have a value. A local cluster is reached
    through the admin kubeconfig under its state directory; any other cluster through its ``kubeconfig`` /
    ``context`` settings (an empty dict leaves the modules' own defaults).
    """
    kubeconfig = target["kubeconfig"]
    if kubeconfig is None and target["localCluster"] is not None:
        kubeconfig = os.path.join(state_dir or default_state_root(), target["name"], "config", "admin.kubeconfig")
    elif kubeconfig is not None:
        kubeconfig = os.path.expanduser(kubeconfig)
    conn = {"kubeconfig": kubeconfig, "context": target["context"]}
    return {key: value for key, value in conn.items() if value is not None}


def hostvars(target, config_file=None, state_dir=None):
    """The ``adhar_*`` hostvars of one resolved target (the ``OPTIONAL_HOSTVARS`` only when they have a value)."""
    local = target["localCluster"] is not None
    root = state_dir or default_state_root()
    conn = connection(target, root)
    services = {
        name: {"chart": svc["chart"], "helm_values": {kv["key"]: kv["value"] for kv in svc["values"]}, "configured": svc["configured"]}
        for name, svc in target["coreServices"].items()
    }
    out = {
        "adhar_cluster_name": target["name"],
        "adhar_environment": target["environment"],
        "adhar_environment_type": target["type"],
        "adhar_template": target["template"],
        "adhar_role": target["role"],
        "adhar_provider": target["provider"],
        "adhar_provider_type": target["providerType"],
        "adhar_region": target["region"],
        "adhar_ha": target["ha"],
        "adhar_control_plane_count": target["controlPlane"]["count"],
        "adhar_nodes_count": target["nodes"]["count"],
        "adhar_kubernetes_version": target["kubernetesVersion"],
        "adhar_instance_type": target["instanceType"],
        "adhar_pod_cidr": target["podCidr"],
        "adhar_service_cidr": target["serviceCidr"],
        "adhar_cluster_id": target["clusterId"],
        "adhar_mesh": target["mesh"],
        "adhar_core_services": services,
        "adhar_addons": target["addons"],
        "adhar_cluster_config": {kv["key"]: kv["value"] for kv in target["clusterConfig"]},
        "adhar_global_settings": target["globalSettings"],
        "adhar_backup": target["backup"],
        "adhar_config_file": config_file,
        "adhar_local_cluster": target["localCluster"],
        "adhar_kubeconfig": conn.get("kubeconfig"),
        "adhar_context": conn.get("context"),
        "adhar_state_dir": root if local else None,
        "adhar_connection": conn,
    }
    return {key: value for key, value in out.items() if value is not None or key not in OPTIONAL_HOSTVARS}


def groups(target):
    """Groups of one target: clusters, primary|replica, provider_<type>, region_<region>, type_<env type>, environment_<name>, local."""
    out = [ALL_GROUP]
    if target["role"]:
        out.append(target["role"])
    if target["providerType"]:
        out.append(group_name("provider", target["providerType"]))
    if target["region"]:
        out.append(group_name("region", target["region"]))
    out.append(group_name("type", target["type"]))
    if target["environment"]:
        out.append(group_name("environment", target["environment"]))
    if target["localCluster"]:
        out.append(LOCAL_GROUP)
    return out


def inventory_hosts(cfg, config_file=None, state_dir=None):
    """``[(host name, hostvars, groups)]`` for a valid config."""
    return [(t["name"], hostvars(t, config_file, state_dir), groups(t)) for t in R.targets(cfg)]
