# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``adhar.platform.mesh``: connect clusters into a Cilium ClusterMesh, or disconnect them.

Order of work: the input rules (``preflight.check_members``), then the facts of every member (read only), then the
rules over the facts (``preflight.check_facts``) - one error and nothing changed when any fails - and only then the
changes, member by member: the shared CA in Secret ``cilium-ca``, the member's own ClusterMesh control plane (local
processes, or the Cilium release's ``clustermesh.useAPIServer``), and its peers.
"""

from __future__ import annotations

import os
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.args import K8S_AUTH_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import ca as meshca
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh import cilium, local, preflight
from ansible_collections.adhar.platform.plugins.module_utils._net.mesh.spec import MEMBER_CONNECTION_KEYS
from ansible_collections.adhar.platform.plugins.module_utils._common.scratch import ScratchDir

CONNECTION_KEYS = tuple(K8S_AUTH_ARG_SPEC)


def member_k8s(member, params):
    """The member's connection options: its own, else the task's."""
    own = [k for k in MEMBER_CONNECTION_KEYS if member.get(k) is not None]
    if own:  # a member that names its own cluster does not inherit the task's credentials
        out = {k: member.get(k) for k in MEMBER_CONNECTION_KEYS}
    else:
        out = {k: params.get(k) for k in MEMBER_CONNECTION_KEYS}
    out.update({k: params.get(k) for k in CONNECTION_KEYS if k not in MEMBER_CONNECTION_KEYS})
    return out


def check_inputs(params):
    members = params.get("members") or []
    if not members:
        raise AdharError("members: give at least one cluster", option="members")
    preflight.check_members(members, params.get("max_connected_clusters"))
    for m in members:
        own = [k for k in MEMBER_CONNECTION_KEYS if m.get(k) is not None]
        if m.get("local_cluster") and own:
            raise AdharError("member %s: local_cluster and %s are exclusive (a local cluster is reached through its own "
                             "admin kubeconfig)" % (m["name"], ", ".join(own)), member=m["name"], rule="member")
    if bool(params.get("mesh_ca_cert")) != bool(params.get("mesh_ca_key")):
        raise AdharError("mesh_ca_cert and mesh_ca_key go together", option="mesh_ca_cert")


def _client(k8s, check_mode=False):
    from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
    return K8sClient.from_params(k8s, check_mode=check_mode)


class Mesh:
    """One run of the mesh module (or the reads of mesh_info)."""

    def __init__(self, params, check_mode=False, diff_mode=False, warn=None):
        self.p = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.warn = warn or (lambda msg: None)
        self.maxc = params.get("max_connected_clusters") or 255
        self.root = local.state_root(params.get("state_dir"))
        self.scratch = ScratchDir("mesh")
        self.actions = []
        self.diffs = []
        self.conns = {}

    def close(self):
        self.scratch.remove()

    # ------------------------------------------------------------------ facts

    def gather(self, need_running=True, require_supervisor=True):
        out = []
        for m in self.p["members"]:
            if m.get("local_cluster"):
                if need_running:
                    f = local.facts(self.root, m, self.maxc, require_supervisor)
                else:
                    layout, data = local.open_member(self.root, m)
                    f = {"name": m["name"], "kind": "local", "layout": layout, "data": data, "mesh": data.get("mesh") or {},
                         "k8s": local.k8s_params(layout)}
                    out.append(f)
                    continue
                with _client(f["k8s"]) as client:
                    f["ca"] = meshca.read_secret(client, f["namespace"])
                f["ca_fingerprint"] = meshca.fingerprint(f["ca"]["cert"]) if f["ca"] else None
            else:
                k8s = member_k8s(m, self.p)
                conn = self.connection(m["name"], k8s)
                with _client(k8s) as client:
                    f = cilium.facts(m, k8s, conn, client, self.maxc)
            out.append(f)
        return out

    def connection(self, name, k8s):
        if name not in self.conns:
            workdir = os.path.join(self.scratch.path, name)
            os.makedirs(workdir, mode=0o700, exist_ok=True)
            self.conns[name] = cilium.Connection(k8s, self.p.get("bin_dir"), workdir)
        return self.conns[name]

    def choose_ca(self, facts):
        given = meshca.load_given(self.p["mesh_ca_cert"], self.p["mesh_ca_key"]) if self.p.get("mesh_ca_cert") else None
        preflight.check_facts(facts, self.maxc, meshca.fingerprint(given["cert"]) if given else None)
        if given:
            return given, "given"
        for f in facts:
            if f.get("ca"):
                return f["ca"], "kept in Secret cilium-ca of %s" % f["name"]
        return meshca.generate(), "generated"

    # ------------------------------------------------------------------ changes

    def apply_objects(self, f, objects, what):
        from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import ApplyEngine, finish
        with _client(f["k8s"], check_mode=self.check_mode) as client:
            engine = ApplyEngine(client, field_manager="adhar-mesh", check_mode=self.check_mode, diff=self.diff_mode,
                                 warn=self.warn)
            result = finish(engine.run([(o, what) for o in objects]), False)
        if result["changed"]:
            self.actions.append("%s: %s%s" % (f["name"], "would apply " if self.check_mode else "applied ",
                                              ", ".join(result["changes"])))
        return result["changed"]

    def ensure_ca(self, f, ca):
        """The CA Secret of a local member (a Cilium release's Secret cilium-ca is the chart's: it gets the CA as
        values, and writing the Secret beside the chart would block the release)."""
        if f["kind"] != "local" or f.get("ca_fingerprint") == meshca.fingerprint(ca["cert"]):
            return False
        return self.apply_objects(f, [meshca.secret_object(f["namespace"], ca)], "the mesh CA")

    def crds(self):
        from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
        from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import load_objects
        d = toolchain.clustermesh_crds_dir()
        paths = [os.path.join(d, n) for n in toolchain.CLUSTERMESH_CRDS]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise AdharError("Cilium's CRDs are missing from %s; run `tools/toolchain ensure --only clustermesh`" % d,
                             missing=missing)
        return [o for o, _origin in load_objects(src=paths)]

    def present(self):
        facts = self.gather()
        ca, ca_source = self.choose_ca(facts)
        changed = False
        locals_ = [f for f in facts if f["kind"] == "local"]
        helms = [f for f in facts if f["kind"] == "helm"]
        crds = self.crds() if locals_ else []
        for f in facts:
            changed |= self.ensure_ca(f, ca)
        for f in locals_:
            changed |= self.apply_objects(f, crds, "Cilium CRDs")
            acts = local.reserve(self.root, f, self.maxc, self.check_mode)
            self.actions += acts
            changed |= bool(acts)
        for f in helms:
            if not f["endpoint"]:
                # the clustermesh-apiserver Service appears once useAPIServer is on: enable first, connect after
                res = cilium.apply(f, cilium.desired(f, [], self.maxc), ca, self.connection(f["name"], f["k8s"]),
                                   self.check_mode, self.diff_mode, self.warn, self.p["wait_timeout"])
                changed |= self.note_release(f, res)
                if not self.check_mode:
                    with _client(f["k8s"]) as client:
                        f["endpoint"] = cilium.service_endpoint(client, f["namespace"])
                if not f["endpoint"]:
                    self.warn("member %s: the clustermesh-apiserver Service has no address yet; its peers are "
                              "connected to it on the next run (or give the member's endpoint)" % f["name"])
        for f in facts:
            peers = [o for o in facts if o is not f]
            if f["kind"] == "local":
                acts, restart = local.write_files(f, ca, peers, self.check_mode)
                self.actions += acts
                changed |= bool(acts)
                if not self.check_mode:
                    acts = local.start_programs(f, restart)
                    self.actions += acts
                    changed |= bool(acts)
                elif not f.get("joined"):
                    self.actions.append("%s: would start clustermesh-etcd and clustermesh-apiserver" % f["layout"].name)
            else:
                res = cilium.apply(f, cilium.desired(f, peers, self.maxc), ca, self.connection(f["name"], f["k8s"]),
                                   self.check_mode, self.diff_mode, self.warn, self.p["wait_timeout"])
                changed |= self.note_release(f, res)
        return {"changed": changed, "ca": {"source": ca_source, "fingerprint": meshca.fingerprint(ca["cert"])},
                "members": [self.row(f, facts) for f in facts]}

    def note_release(self, f, res):
        if res.get("reasons"):
            self.actions.append("%s: %s release %s: %s" % (f["name"], "would upgrade" if self.check_mode else "upgraded",
                                                           f["release"], "; ".join(res["reasons"])))
            if res.get("diff"):
                self.diffs.append(res["diff"])
        return bool(res.get("changed"))

    def absent(self):
        facts = self.gather(need_running=False)
        changed = False
        for f in facts:
            if f["kind"] == "local":
                acts = local.leave(self.root, f, self.check_mode)
                with _client(f["k8s"], check_mode=self.check_mode) as client:
                    if meshca.remove_ours(client, "kube-system", self.check_mode):
                        acts.append("%s: %s Secret kube-system/%s" % (f["name"], "would remove" if self.check_mode
                                                                      else "removed", meshca.SECRET))
            else:
                if not f["joined"] and not f["configured"]:
                    continue
                res = cilium.apply(f, cilium.without_mesh(f["values"]), None, self.connection(f["name"], f["k8s"]),
                                   self.check_mode, self.diff_mode, self.warn, self.p["wait_timeout"])
                acts = ["%s: disconnected (release %s)" % (f["name"], f["release"])] if res.get("changed") else []
            self.actions += acts
            changed |= bool(acts)
        return {"changed": changed, "members": [{"name": f["name"], "kind": f["kind"]} for f in facts]}

    @staticmethod
    def row(f, facts):
        return {"name": f["name"], "kind": f["kind"], "cluster_id": f["cluster_id"], "endpoint": f.get("endpoint"),
                "pod_cidrs": f["pod_cidrs"], "peers": sorted(o["name"] for o in facts if o is not f),
                "local_cluster": f["layout"].name if f["kind"] == "local" else None}


def run_mesh(module):
    """The ``mesh`` module: ``AdharModule.run`` calls this."""
    start = time.monotonic()
    params = module.params
    check_inputs(params)
    mesh = Mesh(params, module.check_mode, module.diff_mode, module.warn)
    try:
        result = mesh.present() if params["state"] == "present" else mesh.absent()
    finally:
        mesh.close()
    result["actions"] = mesh.actions
    if module.diff_mode and mesh.diffs:
        result["diff"] = mesh.diffs
    elif module.diff_mode:
        result["diff"] = {"before": "", "after": "\n".join(mesh.actions) + ("\n" if mesh.actions else "")}
    result["duration"] = round(time.monotonic() - start, 2)
    return result
