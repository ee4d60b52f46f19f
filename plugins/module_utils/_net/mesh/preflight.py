# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules a Cilium ClusterMesh puts on its members, checked before anything changes (pure functions).

Two passes.  ``check_members`` looks at the task's input only (names, cluster IDs, member count) and runs before any
cluster is contacted; ``check_facts`` looks at what was read from every member (pod networks, Cilium version,
datapath, IPAM and encryption mode, the CA) and runs before anything is written.  Each rule raises one
``AdharError`` that names the member(s) and the rule; nothing is changed when one fails.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

# Cilium's rule for cluster.name: at most 32 lower-case alphanumerics and '-', starting and ending alphanumeric
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
MAX_CONNECTED = (255, 511)
# settings every member must share (fact key -> what the message calls it)
UNIFORM = (("cilium_version", "Cilium version"), ("datapath", "datapath mode"), ("ipam", "IPAM mode"),
           ("encryption", "encryption mode"), ("max_connected_clusters", "maxConnectedClusters"))


def _fail(msg, member=None, rule=None, **details):
    raise AdharError(msg, member=member, rule=rule, **details)


def max_cluster_id(max_connected_clusters):
    return 511 if max_connected_clusters == 511 else 255


def check_members(members, max_connected_clusters=255):
    """Input-only rules over the member list (``[{name, cluster_id, ...}]``), in this order: member count, names
    (valid, not ``default``, unique), cluster IDs (given, in range, unique)."""
    if max_connected_clusters not in MAX_CONNECTED:
        _fail("max_connected_clusters: %r is not one of 255, 511" % (max_connected_clusters,), rule="max_connected_clusters")
    limit = max_cluster_id(max_connected_clusters)
    if len(members) > limit:
        extra = "" if limit == 511 else " (set max_connected_clusters: 511 for up to 511)"
        _fail("members: %d clusters are more than a mesh can hold: at most %d%s" % (len(members), limit, extra),
              rule="member_count", count=len(members), limit=limit)
    seen_names = {}
    for i, m in enumerate(members):
        name = m.get("name")
        where = "members[%d]" % i
        if not isinstance(name, str) or not NAME_RE.match(name):
            _fail("%s: name %r is not a valid Cilium cluster name: 1-32 lower-case letters, digits and '-', starting and "
                  "ending with a letter or digit" % (where, name), member=name, rule="name")
        if name == "default":
            _fail("%s: name 'default' is Cilium's unset cluster name and cannot join a mesh" % where, member=name,
                  rule="name")
        if name in seen_names:
            _fail("members %s and %s: both are named %r; cluster names must be unique in a mesh"
                  % (seen_names[name], where, name), member=name, rule="unique_name")
        seen_names[name] = where
    seen_ids = {}
    for i, m in enumerate(members):
        cid = m.get("cluster_id")
        if cid is None:
            continue  # a local member takes its cluster's saved id; checked again in check_facts
        if isinstance(cid, bool) or not isinstance(cid, int) or not 1 <= cid <= limit:
            hint = "" if limit == 511 else " (up to 511 with max_connected_clusters: 511)"
            _fail("member %s: cluster_id %r is out of range: 1-%d%s" % (m["name"], cid, limit, hint),
                  member=m["name"], rule="cluster_id_range")
        if cid in seen_ids:
            _fail("members %s and %s: both have cluster_id %d; cluster IDs must be unique in a mesh"
                  % (seen_ids[cid], m["name"], cid), member=m["name"], rule="unique_cluster_id")
        seen_ids[cid] = m["name"]


def _networks(facts):
    out = []
    for text in facts.get("pod_cidrs") or []:
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            _fail("member %s: pod network %r is not a CIDR" % (facts["name"], text), member=facts["name"], rule="pod_cidr")
    return out


def check_facts(facts, max_connected_clusters=255, given_ca_fingerprint=None):
    """Rules over what was read from the members (``[{name, cluster_id, pod_cidrs, cilium_version, datapath, ipam,
    encryption, max_connected_clusters, ca_fingerprint}]``): cluster IDs (again: a local member's saved one), pod
    networks that do not overlap, the same Cilium version / datapath / IPAM / encryption / maxConnectedClusters, and
    one CA for all (``given_ca_fingerprint``: the task's own CA, which every member that has one must hold)."""
    check_members([{"name": f["name"], "cluster_id": f.get("cluster_id")} for f in facts], max_connected_clusters)
    for f in facts:
        if f.get("cluster_id") is None:
            _fail("member %s: no cluster_id given and none could be read from the cluster" % f["name"],
                  member=f["name"], rule="cluster_id_range")
    seen = []
    for f in facts:
        nets = _networks(f)
        if not nets:
            _fail("member %s: its pod network is unknown; set the member's pod_cidr" % f["name"], member=f["name"],
                  rule="pod_cidr")
        for net in nets:
            for other, owner in seen:
                if net.version == other.version and net.overlaps(other):
                    _fail("members %s and %s: pod networks %s and %s overlap; clusters in a mesh need distinct pod "
                          "networks" % (owner, f["name"], other, net), member=f["name"], rule="pod_cidr_overlap",
                          members=[owner, f["name"]])
        seen += [(n, f["name"]) for n in nets]
    first = facts[0] if facts else None
    for key, label in UNIFORM:
        for f in facts[1:]:
            if f.get(key) != first.get(key):
                _fail("members %s and %s: %s differs (%s vs %s); every cluster in a mesh needs the same %s"
                      % (first["name"], f["name"], label, first.get(key), f.get(key), label),
                      member=f["name"], rule="same_" + key, members=[first["name"], f["name"]])
    if given_ca_fingerprint:
        for f in facts:
            if f.get("ca_fingerprint") and f["ca_fingerprint"] != given_ca_fingerprint:
                _fail("member %s: its ClusterMesh CA (Secret cilium-ca) is not the one given in mesh_ca_cert; a mesh needs one "
                      "shared CA" % f["name"], member=f["name"], rule="shared_ca")
    cas = {}
    for f in facts:
        if f.get("ca_fingerprint"):
            cas.setdefault(f["ca_fingerprint"], []).append(f["name"])
    if len(cas) > 1:
        groups = sorted(cas.values())
        _fail("members %s and %s have different ClusterMesh CAs (Secret cilium-ca); a mesh needs one shared CA: give "
              "it with mesh_ca_cert/mesh_ca_key or remove the odd one" % (", ".join(groups[0]), ", ".join(groups[1])),
              member=groups[1][0], rule="shared_ca", members=[n for g in groups for n in g])
