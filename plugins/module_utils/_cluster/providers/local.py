# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider ``local``: a real control plane of local processes (see local/runtime.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time

from ansible_collections.adhar.platform.plugins.module_utils._common import toolchain
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import metrics, recover, supervisor, upgrade
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import runtime as rt
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local import state as st
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.spec import (
    NAME_RE, default_state_root, given_fields, merge_saved, normalize)
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.base import Provider
from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import https_request

NEEDED = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def check_output_file(path, option="kubeconfig_out"):
    """The admin kubeconfig can be written (merged) at ``path``: checked before anything starts or is written."""
    if os.path.isdir(path):
        raise AdharError("%s: %s is a directory; give the path of a file to write the kubeconfig to"
                         % (option, path), option=option)
    if os.path.lexists(path):
        if not os.path.isfile(path):
            raise AdharError("%s: %s exists and is not a regular file" % (option, path), option=option)
        if not os.access(path, os.R_OK | os.W_OK):
            raise AdharError("%s: %s is not readable and writable by this user" % (option, path), option=option)
        import yaml
        from ansible.module_utils.common.yaml import yaml_load
        try:
            with open(path) as f:
                yaml_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise AdharError("%s: cannot merge into %s: it is not a readable YAML file (%s)"
                             % (option, path, str(e).splitlines()[0] if str(e) else type(e).__name__), option=option)
        return
    parent = os.path.dirname(path)
    probe = parent
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise AdharError("%s: cannot create %s: %s is a %s, not a directory"
                         % (option, path, probe, "regular file" if os.path.isfile(probe) else "special file"),
                         option=option)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise AdharError("%s: cannot create %s: %s is not writable by this user" % (option, path, probe),
                         option=option)


class LocalProvider(Provider):
    name = "local"
    states = ("present", "started", "stopped", "absent")

    def __init__(self, module):
        super().__init__(module)
        p = self.params
        self.root = os.path.abspath(os.path.expanduser(p["state_dir"])) if p.get("state_dir") else default_state_root()
        self.actions = []
        self.timings = {}
        self.restored_from = None
        self.upgrade = None
        self.t0 = time.monotonic()

    # ------------------------------------------------------------------ validation (before any change)

    def _validate_name(self):
        name = self.params.get("name")
        if not name or not NAME_RE.match(name):
            raise AdharError("name: %r is not a valid cluster name: use 1-32 lower-case letters, digits and '-', "
                             "starting and ending with a letter or digit" % (name,), option="name")

    def _check_kubeconfig_input(self):
        """``kubeconfig`` is a connection input; for provider local it can only name the cluster's own kubeconfig.

        Its output file is ``kubeconfig_out``. A play that passes a local host's connection through
        ``module_defaults`` gives the cluster's own admin kubeconfig (``<state_dir>/<name>/config/admin.kubeconfig``):
        that is accepted and changes nothing. Any other value is refused, so an old task that meant it as the output
        file fails before anything is created instead of silently not writing it. ``K8S_AUTH_KUBECONFIG`` does not
        count: the module reads it only for the providers that connect through it.
        """
        kc = self.params.get("kubeconfig")
        if kc is None:
            return
        if isinstance(kc, str) and kc.strip():
            given = os.path.realpath(os.path.abspath(os.path.expanduser(kc)))
            if given == os.path.realpath(os.path.join(self.root, self.params["name"], "config", "admin.kubeconfig")):
                return
        raise AdharError("kubeconfig: provider local does not take a kubeconfig to connect with (only the cluster's own, "
                         "%s); to write or merge its admin context into a file, use kubeconfig_out instead"
                         % os.path.join(self.root, self.params["name"], "config", "admin.kubeconfig"),
                         option="kubeconfig")

    def _kubeconfig_out(self):
        kc = self.params.get("kubeconfig_out")
        if kc is None:
            return None
        if not kc.strip():
            raise AdharError("kubeconfig_out: an empty path; give the file to write the admin kubeconfig to",
                             option="kubeconfig_out")
        path = os.path.abspath(os.path.expanduser(kc))
        check_output_file(path)
        return path

    def _binaries(self, need_haproxy, version):
        """``(bin_dir, kube_bin_dir, haproxy)``: etcd and kwok from bin_dir (or the toolchain), the Kubernetes server
        binaries of ``version`` from bin_dir or the toolchain directory of that release (local/upgrade.py)."""
        explicit = self.params.get("bin_dir")
        bin_dir, source, missing = toolchain.resolve_bin_dir(explicit, names=NEEDED if explicit else ("etcd", "kwok"))
        if missing:
            raise AdharError("missing binaries in %s (from %s): %s. Build or fetch them with `tools/toolchain ensure` "
                             "(or `make toolchain`), or point bin_dir / ADHAR_BIN_DIR at a directory that has them"
                             % (bin_dir, source, ", ".join(missing)), bin_dir=bin_dir, missing=missing)
        kube_bin_dir = upgrade.kube_bin_dir_for(version, explicit)
        supervisor.require_package()
        haproxy = rt.find_haproxy() if need_haproxy else None
        if need_haproxy and not haproxy:
            raise AdharError("haproxy is required for control_plane.count > 1 but was not found; install the Debian "
                             "package haproxy (make system-deps) or use a single member", missing=["haproxy"])
        return bin_dir, kube_bin_dir, haproxy

    @staticmethod
    def _metrics_binary(spec):
        """metrics-server of the toolchain (None when the cluster does not run it); missing is an error."""
        if not spec.get("metrics_server"):
            return None
        path, where = toolchain.find_addon_binary("metrics-server", metrics.COMPONENT)
        if not path:
            raise AdharError("metrics_server: metrics-server is not in ADHAR_BIN_DIR nor in %s; build it with "
                             "`tools/toolchain ensure --only metrics-server` (part of `make toolchain`)" % where,
                             option="metrics_server", missing=["metrics-server"])
        return path

    def _desired(self):
        spec = normalize(self.params, toolchain.VERSIONS["kubernetes"])
        volumes = self._volumes_wanted()
        if volumes is not None and (volumes < 0 or volumes > 1000):
            raise AdharError("nodes.volumes: %d is out of range (0-1000)" % volumes, option="nodes.volumes")
        return spec

    def _volumes_wanted(self):
        return (self.params.get("nodes") or {}).get("volumes")

    # ------------------------------------------------------------------ helpers

    def _layout(self):
        return st.Layout(self.root, self.params["name"])

    def _client(self, cluster):
        from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
        self.module.require_k8s()
        return K8sClient.from_params({"kubeconfig": cluster.layout.admin_kubeconfig, "request_timeout": 10.0,
                                      "api_retry_deadline": 30.0})

    def _deadline(self):
        return time.monotonic() + float(self.params.get("wait_timeout") or 180)

    def _describe(self, cluster, running=None, probe=True):
        programs = cluster.programs()
        if running is None:
            running = cluster.running(programs)
        ports = cluster.ports
        members = []
        for i, m in enumerate(ports["members"]):
            api_url = "https://127.0.0.1:%d" % m["apiserver"]
            ready = None
            if probe and running.get("apiserver-%d" % i):
                try:
                    ready = rt.apiserver_ready(cluster, m["apiserver"], timeout=2)[0]
                except OSError:
                    ready = False
            members.append({
                "name": "member-%d" % i,
                "etcd": {"url": "https://127.0.0.1:%d" % m["etcd_client"], "running": running.get("etcd-%d" % i, False)},
                "apiserver": {"url": api_url, "running": running.get("apiserver-%d" % i, False), "ready": ready},
                "controller_manager": {"running": running.get("controller-manager-%d" % i, False)},
                "scheduler": {"running": running.get("scheduler-%d" % i, False)},
                "healthy": bool(running.get("etcd-%d" % i) and running.get("apiserver-%d" % i) and ready is not False
                                and running.get("controller-manager-%d" % i) and running.get("scheduler-%d" % i)),
            })
        version = None
        if probe and any(running.values()):
            try:
                status, body = https_request(cluster.endpoint + "/version", timeout=2, **cluster.tls())
                if status == 200:
                    import json
                    version = json.loads(body).get("gitVersion")
            except (OSError, ValueError):
                version = None
        nodes = {"count": cluster.spec["nodes_count"]}
        if probe and running.get("kwok") and any(running.get("apiserver-%d" % i) for i in range(cluster.members)):
            try:
                nodes["ready"], nodes["total"] = rt.nodes_status(cluster)
            except (OSError, ValueError):
                pass
        spec = cluster.spec
        return {
            "name": cluster.layout.name,
            "provider": "local",
            "phase": cluster.data.get("phase"),
            "running": all(running.values()),
            "processes": running,
            "supervisor": self._supervisor_info(cluster, programs),
            "api_endpoint": cluster.endpoint,
            "kubeconfig": cluster.data.get("kubeconfig") or cluster.layout.admin_kubeconfig,
            "admin_kubeconfig": cluster.layout.admin_kubeconfig,
            "context": "adhar-" + cluster.layout.name,
            "state_dir": cluster.layout.dir,
            "bin_dir": cluster.data["bin_dir"],
            "server_version": version,
            "kubernetes_version": spec["kubernetes_version"],
            "cluster_id": spec["cluster_id"],
            "pod_cidr": spec["pod_cidr"],
            "service_cidr": spec["service_cidr"],
            "control_plane": members,
            "load_balancer": ({"url": cluster.endpoint, "running": running.get("haproxy", False)} if cluster.members > 1 else None),
            "nodes": nodes,
            "encryption_at_rest": bool(spec.get("encryption_at_rest")),
            "audit_log": bool(spec.get("audit_policy")),
        }

    @staticmethod
    def _supervisor_info(cluster, programs):
        record = cluster.supervisor.record() or {}
        return {"running": programs is not None, "pid": record.get("pid") if programs is not None else None,
                "config": cluster.supervisor.config_path,
                "programs": {n: {"state": (programs.get(n) or {}).get("state"), "pid": (programs.get(n) or {}).get("pid")}
                             for n in cluster.process_names()} if programs is not None else None}

    def _planned(self, spec):
        """What a new cluster would look like (check mode: nothing is allocated)."""
        n = spec["control_plane_count"]
        return {
            "name": spec["name"], "provider": "local", "phase": "planned", "running": False,
            "kubernetes_version": spec["kubernetes_version"], "cluster_id": spec["cluster_id"],
            "pod_cidr": spec["pod_cidr"], "service_cidr": spec["service_cidr"],
            "state_dir": os.path.join(self.root, spec["name"]),
            "kubeconfig": self._kubeconfig_out() or os.path.join(self.root, spec["name"], "config", "admin.kubeconfig"),
            "control_plane": [{"name": "member-%d" % i} for i in range(n)],
            "load_balancer": {"url": None} if n > 1 else None,
            "nodes": {"count": spec["nodes_count"]},
            "api_endpoint": ("https://127.0.0.1:%d" % spec["api_port"]) if spec.get("api_port") else None,
        }

    def _summary(self, cluster_dict):
        if not cluster_dict:
            return {"exists": False}
        return {"exists": True, "running": cluster_dict.get("running"), "phase": cluster_dict.get("phase"),
                "control_plane_count": len(cluster_dict.get("control_plane") or []),
                "nodes_count": (cluster_dict.get("nodes") or {}).get("count"),
                "kubernetes_version": cluster_dict.get("kubernetes_version")}

    def _result(self, changed, cluster_dict, before):
        out = {"changed": changed, "cluster": cluster_dict, "actions": self.actions,
               "duration": round(time.monotonic() - self.t0, 2)}
        if self.timings:
            out["timings"] = self.timings
        if self.restored_from:
            out["restored_from"] = self.restored_from
        if self.upgrade:
            out["upgrade"] = self.upgrade
        if self.module.diff_mode:
            out["diff"] = {"before": before, "after": self._summary(cluster_dict) if cluster_dict else {"exists": False}}
        return out

    # ------------------------------------------------------------------ create / start / stop / remove

    def _remove(self, cluster_or_layout):
        layout = cluster_or_layout.layout if isinstance(cluster_or_layout, rt.Cluster) else cluster_or_layout
        data = st.load(layout) if os.path.isfile(layout.state_file) else None
        if data:
            # the cluster is being deleted: nothing to shut down gracefully for
            stopped = rt.Cluster(layout, data).stop(force=True)
            if stopped:
                self.actions.append("stopped %s" % ", ".join(stopped))
            for path in sorted(set(data.get("kubeconfigs") or []) | ({data["kubeconfig"]} if data.get("kubeconfig") else set())):
                if rt.unmerge_kubeconfig(path, layout.name):
                    self.actions.append("removed context adhar-%s from %s" % (layout.name, path))
        else:
            # a directory without state: kill its supervisord and whatever it recorded or marked, nothing else
            supervisor.Supervisor(layout).kill()
        shutil.rmtree(layout.dir, ignore_errors=False)
        self.actions.append("removed %s" % layout.dir)

    def _create(self, layout, spec, plan=None):
        bin_dir, kube_bin_dir, haproxy = self._binaries(spec["control_plane_count"] > 1, spec["kubernetes_version"])
        kubeconfig_out = self._kubeconfig_out()
        metrics_binary = self._metrics_binary(spec)
        with st.ports_lock(self.root):
            ports = rt.allocate_ports(self.root, layout.name, spec["control_plane_count"], spec.get("api_port"),
                                      extra=(metrics.PORT_KEY,) if metrics_binary else ())
            os.makedirs(layout.dir, mode=0o700)
            data = rt.new_state(layout, spec, bin_dir, haproxy, kubeconfig_out)
            data["ports"] = ports
            data["kube_bin_dir"] = kube_bin_dir
            if metrics_binary:
                data["metrics_server_binary"] = metrics_binary
            st.save(layout, data)
        cluster = rt.Cluster(layout, data)
        try:
            rt.write_configs(cluster)
            if plan is not None:
                t = time.monotonic()
                recover.install_encryption_config(cluster, plan)
                if recover.install_service_account_key(cluster, plan):
                    st.save(layout, data)
                    self.actions.append("accepting service-account tokens signed by the source cluster's key")
                recover.restore_members(cluster, plan)
                self.timings["etcd_restored"] = round(time.monotonic() - t, 2)
                self.actions.append("restored etcd from %s" % recover.describe_source(plan))
            self._start_all(cluster, restored=plan is not None)
            self._reconcile_volumes(cluster)
            if kubeconfig_out:
                self._ensure_kubeconfig(cluster, kubeconfig_out)
            data["phase"] = "ready"
            data.pop("owner_pid", None)
            st.save(layout, data)
        except BaseException as e:
            # nothing half-made survives: stop what started, remove the directory, keep the reason
            detail = str(e)
            try:
                self._remove(cluster)
            except Exception as cleanup:  # report both; the original error matters most
                detail += " (cleanup also failed: %s)" % cleanup
            if isinstance(e, AdharError):
                raise AdharError("creating cluster %s failed and was rolled back: %s" % (layout.name, detail), **e.details)
            raise
        self.actions.append("cluster ready")
        return cluster

    def _start_all(self, cluster, restored=False):
        """Start every process of a cluster whose processes are all stopped and wait until it is ready.

        ``restored``: its etcd data comes from a snapshot; what the old data carries over is fixed once the API
        servers answer, before the controllers start (``recover.reset_after_restore``).
        """
        deadline = self._deadline()
        first, second = cluster.phases()
        t = time.monotonic()
        self._ensure_supervisor(cluster, deadline)
        cluster.start(first)
        rt.wait_control_plane(cluster, deadline, names=first)
        self.timings["control_plane_ready"] = round(time.monotonic() - t, 2)
        if restored:
            self.actions += recover.reset_after_restore(cluster)
        cluster.start(second)
        self.actions.append("started %d processes under supervisord" % len(cluster.process_names()))
        created = rt.reconcile_nodes(lambda: self._client(cluster), cluster, cluster.spec["nodes_count"])[0]
        if created:
            self.actions.append("created nodes %s" % ", ".join(created))
        rt.wait_workloads_ready(cluster, deadline)
        if created:
            rt.set_node_versions(cluster, cluster.spec["kubernetes_version"])
        rt.wait_programs_running(cluster, cluster.process_names(), deadline)
        cluster.record_pids()
        self.timings["nodes_and_leaders_ready"] = round(time.monotonic() - t, 2)
        if metrics.enabled(cluster.data):
            rt.wait_metrics_api(cluster, deadline)
            self.actions.append("registered the resource metrics API (metrics.k8s.io)")
            self.timings["metrics_api_ready"] = round(time.monotonic() - t, 2)

    def _ensure_supervisor(self, cluster, deadline):
        orphans = cluster.ensure_supervisor(deadline)
        if orphans:
            self.actions.append("supervisord was not running: stopped the processes it left (%s) to run them under a "
                                "new one" % ", ".join(orphans))

    def _ensure_kubeconfig(self, cluster, path):
        """Our context in the user's kubeconfig ``path``; returns True when it had to be written."""
        from ansible.module_utils.common.yaml import yaml_load
        with open(cluster.layout.admin_kubeconfig) as f:
            ours = yaml_load(f)
        if rt.kubeconfig_has(path, ours):
            return False
        if self.check_mode:
            self.actions.append("would write context adhar-%s to %s" % (cluster.layout.name, path))
            return True
        rt.merge_kubeconfig(path, ours)
        paths = cluster.data.setdefault("kubeconfigs", [])
        if path not in paths:
            paths.append(path)
        cluster.data["kubeconfig"] = path
        st.save(cluster.layout, cluster.data)
        self.actions.append("wrote context adhar-%s to %s" % (cluster.layout.name, path))
        return True

    def _heal(self, cluster):
        """Start supervisord when it is not running and every process that is not running, then wait for readiness."""
        programs = cluster.programs()
        running = cluster.running(programs)
        dead = [n for n in cluster.process_names() if not running[n]]
        if not dead and programs is not None:
            return []
        for d, names in [(cluster.data["bin_dir"], ("etcd", "kwok"))] + sorted(
                {(cluster.kube_bin_dir(n), rt.SERVER_BINARIES) for n in cluster.process_names()}):
            missing = toolchain.missing_binaries(d, names)
            if missing:
                raise AdharError("cannot start cluster %s: its binaries are gone from %s (%s)"
                                 % (cluster.layout.name, d, ", ".join(missing)))
        if cluster.members > 1 and not (cluster.data.get("haproxy") and os.access(cluster.data["haproxy"], os.X_OK)):
            cluster.data["haproxy"] = rt.find_haproxy()
            if not cluster.data["haproxy"]:
                raise AdharError("cannot start cluster %s: haproxy is not installed" % cluster.layout.name)
        deadline = self._deadline()
        first, second = cluster.phases()
        self._ensure_supervisor(cluster, deadline)
        if programs is None:
            # a new supervisord: whatever the dead one left was stopped, everything starts again under it
            self.actions.append("started supervisord")
            dead = cluster.process_names()
        cluster.start([n for n in first if n in dead])
        rt.wait_control_plane(cluster, deadline, names=first)
        cluster.start([n for n in second if n in dead])
        rt.wait_programs_running(cluster, dead, deadline)
        cluster.record_pids()
        self.actions.append("started %s" % ", ".join(dead))
        return dead

    def _reconcile_volumes(self, cluster):
        """Keep ``nodes.volumes`` free local PVs (and their StorageClass); see module_utils/_cluster/local_volumes.py."""
        wanted = self._volumes_wanted()
        if wanted is None:
            return False
        from ansible_collections.adhar.platform.plugins.module_utils._cluster import local_volumes
        from ansible_collections.adhar.platform.plugins.module_utils._k8s.client import K8sClient
        self.module.require_k8s()
        client = K8sClient.from_params({"kubeconfig": cluster.layout.admin_kubeconfig, "request_timeout": 10.0,
                                        "api_retry_deadline": 30.0}, check_mode=self.check_mode)
        try:
            done = local_volumes.ensure_pool(client, cluster.layout.sub("volumes"), wanted)
        finally:
            client.close()
        verb = "would create" if self.check_mode else "created"
        if done["storage_class"]:
            self.actions.append("%s StorageClass %s" % (verb, local_volumes.STORAGE_CLASS))
        if done["created"]:
            self.actions.append("%s local volumes %s" % (verb, ", ".join(done["created"])))
        return bool(done["storage_class"] or done["created"])

    def _reconcile_nodes(self, cluster, count, deadline):
        created, deleted = rt.reconcile_nodes(lambda: self._client(cluster), cluster, count, check_mode=self.check_mode)
        if created:
            self.actions.append("%screate nodes %s" % ("would " if self.check_mode else "", ", ".join(created)))
        if deleted:
            self.actions.append("%sdelete nodes %s" % ("would " if self.check_mode else "", ", ".join(deleted)))
        if (created or deleted) and not self.check_mode:
            rt.wait_workloads_ready(cluster, deadline)
            if created:
                rt.set_node_versions(cluster, cluster.spec["kubernetes_version"])
        return bool(created or deleted)

    # ------------------------------------------------------------------ states

    def _open(self, need_spec):
        self._validate_name()
        st.check_root(self.root)
        spec = self._desired() if need_spec else None
        self._check_kubeconfig_input()
        self._kubeconfig_out()
        layout = self._layout()
        return layout, spec, st.load(layout)

    def _converge(self, start):
        layout, spec, data = self._open(need_spec=True)
        options = self.params.get("restore_from")
        if not options:
            return self._converge_spec(start, layout, spec, data, None)
        if data is not None and data.get("phase") == "ready" and not options.get("force"):
            self.module.warn("cluster %s exists: restore_from only applies when it is created (set restore_from.force "
                             "to restore it in place)" % layout.name)
            return self._converge_spec(start, layout, spec, data, None)
        bin_dir = data["bin_dir"] if data and data.get("phase") == "ready" else \
            toolchain.resolve_bin_dir(self.params.get("bin_dir"), names=NEEDED)[0]
        plan = recover.prepare(options, layout.name, bin_dir=bin_dir)
        try:
            self.restored_from = plan.summary()
            if data is not None and data.get("phase") == "ready":
                return self._restore_in_place(rt.Cluster(layout, data), plan)
            spec = recover.merge_source_spec(spec, given_fields(self.params), plan)
            return self._converge_spec(start, layout, spec, data, plan)
        finally:
            plan.cleanup()

    def _converge_spec(self, start, layout, spec, data, plan):
        if data is None or data.get("phase") != "ready":
            before = {"exists": data is not None, "phase": data.get("phase") if data else None}
            if data is not None:
                self.actions.append("found an interrupted creation (phase %s); %s it" % (data.get("phase"),
                                    "would recreate" if self.check_mode else "recreating"))
            # validate binaries even in check mode, so check mode predicts the real run
            self._binaries(spec["control_plane_count"] > 1, spec["kubernetes_version"])
            self._metrics_binary(spec)
            if spec.get("api_port") is not None and data is None:
                from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.ports import port_free
                if not port_free(spec["api_port"]):
                    raise AdharError("api_port: 127.0.0.1:%d is already in use by another process" % spec["api_port"],
                                     option="api_port")
            if self.check_mode:
                self.actions.append("would create cluster %s (%d control-plane member(s), %d node(s))"
                                    % (spec["name"], spec["control_plane_count"], spec["nodes_count"]))
                if self._volumes_wanted() is not None:
                    self.actions.append("would create StorageClass adhar-local and %d local volumes" % self._volumes_wanted())
                if plan is not None:
                    self.actions.append("would restore etcd from %s" % recover.describe_source(plan))
                return self._result(True, self._planned(spec), before)
            with st.cluster_lock(layout):
                data = st.load(layout)
                if data is not None and data.get("phase") != "ready":
                    self._remove(layout)
                    data = None
                if data is None:
                    cluster = self._create(layout, spec, plan)
                    if plan is not None:
                        self.restored_from = plan.summary(time.monotonic() - self.t0)
                    return self._result(True, self._describe(cluster), before)
        cluster = rt.Cluster(layout, data)
        given = given_fields(self.params)
        spec = merge_saved(spec, given, cluster.spec)
        changes = rt.spec_changes(cluster.spec, spec)
        if changes:
            raise AdharError("cluster %s exists with different settings that cannot change in place: %s. Delete it "
                             "(state: absent) and create it again, or keep the saved values"
                             % (layout.name, "; ".join("%s %r -> %r" % c for c in changes)),
                             changes=[{"field": f, "saved": a, "requested": b} for f, a, b in changes])
        moving = self._upgrade_plan(cluster, spec, given)
        running = cluster.running()
        before = self._summary(self._describe(cluster, running, probe=False))
        changed = healed = False
        if self._kubeconfig_out():
            with (contextlib.nullcontext() if self.check_mode else st.cluster_lock(layout)):
                changed = self._ensure_kubeconfig(cluster, self._kubeconfig_out())
        supervised = cluster.supervised()
        if start:
            dead = [n for n in cluster.process_names() if not running[n]]
            if (dead or not supervised) and self.check_mode:
                self.actions.append("would start %s" % ", ".join((["supervisord"] if not supervised else []) + dead))
                return self._result(True, self._describe(cluster, running), before)
            if dead or not supervised:
                with st.cluster_lock(layout):
                    healed = bool(self._heal(cluster))
                changed = changed or healed
                running = cluster.running()
        if moving:
            upgraded = self._upgrade(cluster, running, *moving)
            if self.check_mode:
                return self._result(True, dict(self._describe(cluster, running), kubernetes_version=spec["kubernetes_version"]),
                                    before)
            changed = changed or upgraded
            running = cluster.running()
        if bool(spec.get("metrics_server")) != metrics.enabled(cluster.data):
            changed = self._set_metrics_server(cluster, bool(spec.get("metrics_server"))) or changed
            running = cluster.running()
        nodes_changed = False
        if spec["nodes_count"] != cluster.spec["nodes_count"]:
            if not self.check_mode:
                cluster.spec["nodes_count"] = spec["nodes_count"]
                st.save(layout, cluster.data)
            else:
                self.actions.append("would set nodes.count %d -> %d" % (cluster.data["spec"]["nodes_count"], spec["nodes_count"]))
            nodes_changed = True
        if all(running.values()):
            deadline = self._deadline()
            if self._reconcile_nodes(cluster, spec["nodes_count"], deadline):
                nodes_changed = True
            if self._reconcile_volumes(cluster):
                nodes_changed = True
            if start and healed:
                rt.wait_workloads_ready(cluster, deadline)
        if not start and not supervised and any(running.values()):
            self.module.warn("supervisord of cluster %s is not running: processes that die are not restarted; "
                             "state=started starts it again" % layout.name)
        if not all(running.values()) and not start:
            down = [n for n in cluster.process_names() if not running[n]]
            if len(down) == len(running):
                self.module.warn("cluster %s is stopped; use state=started to start it" % layout.name)
            else:
                self.module.warn("cluster %s is degraded (not running: %s); state=started restarts them"
                                 % (layout.name, ", ".join(down)))
        return self._result(changed or nodes_changed, self._describe(cluster, running), before)

    def _upgrade_plan(self, cluster, spec, given):
        """``(kind, version, bin dir)`` of a rolling upgrade (or its resume or rollback) the task asks for, None for
        none; the skew rules and the target's binaries are checked here, before anything changes."""
        record = cluster.data.get("upgrade")
        if "kubernetes_version" not in given:
            if record:
                self.module.warn("cluster %s: an upgrade from %s to %s is unfinished; set kubernetes_version to %s to "
                                 "finish it or to %s to roll it back" % (cluster.layout.name, record["from"],
                                                                         record["to"], record["to"], record["from"]))
            return None
        kind = upgrade.check_skew(cluster.spec["kubernetes_version"], spec["kubernetes_version"], record)
        if kind is None:
            return None
        version = spec["kubernetes_version"]
        if kind == "rollback":
            to_dir = record["from_dir"]
            if toolchain.missing_binaries(to_dir, rt.SERVER_BINARIES):
                to_dir = upgrade.kube_bin_dir_for(version, self.params.get("bin_dir"))
        else:
            to_dir = upgrade.kube_bin_dir_for(version, self.params.get("bin_dir"))
        return kind, version, to_dir

    def _upgrade(self, cluster, running, kind, version, to_dir):
        """Move the control plane to ``version`` member by member (local/upgrade.py); check mode only says what would."""
        layout = cluster.layout
        record = cluster.data.get("upgrade") or {}
        current = record.get("from") if kind == "resume" else record.get("to") if kind == "rollback" \
            else cluster.spec["kubernetes_version"]
        order = upgrade.plan(cluster.members, kind, upgrade.leaders(cluster) if all(running.values()) else None)
        verb = {"upgrade": "upgrade", "resume": "finish the upgrade of", "rollback": "roll back"}[kind]
        if self.check_mode:
            self.actions.append("would %s cluster %s from %s to %s, one process at a time: %s, then the nodes' "
                                "reported version" % (verb, layout.name, current, version, ", ".join(order)))
            self.upgrade = {"kind": kind, "from": current, "to": version, "order": order, "steps": []}
            return True
        need = [n for n in cluster.process_names() if n.startswith("etcd-") or n in ("haproxy", "kwok")]
        down = [n for n in need if not running.get(n)]
        if down or not cluster.supervised():
            raise AdharError("cluster %s must be running to %s it (not running: %s); start it (state: started) first"
                             % (layout.name, verb.split(" ")[0], ", ".join(down or ["supervisord"])),
                             option="kubernetes_version")
        t = time.monotonic()
        self.actions.append("%s cluster %s from %s to %s, one process at a time: %s"
                            % (verb, layout.name, current, version, ", ".join(order)))
        with st.cluster_lock(layout):
            cluster.data = st.load(layout)
            run = upgrade.Upgrade(cluster, kind, version, to_dir, float(self.params.get("wait_timeout") or 180),
                                  self.actions, self.module.warn)
            self.upgrade = {"kind": kind, "from": current, "to": version, "order": order, "steps": run.steps}
            run.begin(current, cluster.data.get("kube_bin_dir") or cluster.data["bin_dir"])
            try:
                run.run(order)
            finally:
                self.upgrade["seconds"] = round(time.monotonic() - t, 2)
        if cluster.members == 1:
            self.module.warn("cluster %s has a single member: its API server was restarted in place (a short outage)"
                             % layout.name)
        self.actions.append("cluster %s runs %s (%.1fs)" % (layout.name, version, time.monotonic() - t))
        return True

    def _set_metrics_server(self, cluster, on):
        """Turn metrics-server on or off on an existing, running cluster: kwok's config (kwok restarts to read it), the
        supervised program, the Nodes' metrics path, the APIService."""
        layout = cluster.layout
        verb = "turn metrics-server %s" % ("on" if on else "off")
        binary = self._metrics_binary({"metrics_server": on})
        running = cluster.running()
        if not all(running.values()) or not cluster.supervised():
            if self.check_mode:
                self.actions.append("would start the cluster and " + verb)
                return True
            raise AdharError("metrics_server: cluster %s must be running to %s; start it (state: started) first"
                             % (layout.name, verb), option="metrics_server")
        if self.check_mode:
            self.actions.append("would " + verb)
            return True
        from ansible_collections.adhar.platform.plugins.module_utils._common.tlsprobe import ssl_context
        deadline = self._deadline()
        ctx = ssl_context(**cluster.tls())
        with st.cluster_lock(layout):
            if on:
                with st.ports_lock(self.root):
                    cluster.ports[metrics.PORT_KEY] = rt.allocate_extra_port(self.root, cluster)
                    cluster.data["metrics_server_binary"] = binary
                    cluster.spec["metrics_server"] = True
                    st.save(layout, cluster.data)
            else:
                cluster.supervisor.stop_programs([[metrics.PROGRAM]])
                metrics.unregister(cluster.endpoint, ctx)
                cluster.spec["metrics_server"] = False
                cluster.ports.pop(metrics.PORT_KEY, None)
                cluster.data.pop("metrics_server_binary", None)
                st.save(layout, cluster.data)
            rt.write_kwok_config(cluster)
            cluster.supervisor.stop_programs([["kwok"]])
            self._ensure_supervisor(cluster, deadline)
            cluster.start(["kwok"] + metrics.program_names(cluster.data))
            rt.wait_programs_running(cluster, cluster.process_names(), deadline)
            cluster.record_pids()
            if on:
                annotated = rt.annotate_nodes_for_metrics(lambda: self._client(cluster), cluster)
                if annotated:
                    self.actions.append("gave nodes %s their resource metrics path" % ", ".join(annotated))
                rt.wait_metrics_api(cluster, deadline)
        self.actions.append("turned metrics-server %s (kwok restarted with%s its resource metrics)"
                            % ("on" if on else "off", "" if on else "out"))
        return True

    def _restore_in_place(self, cluster, plan):
        """Stop the cluster, restore every member into new data directories, start it again; the old directories
        (and encryption config) come back when anything fails before the restored cluster is healthy."""
        layout = cluster.layout
        recover.check_in_place(cluster, plan)
        running = cluster.running()
        before = self._summary(self._describe(cluster, running, probe=False))
        if self.check_mode:
            self.actions.append("would stop cluster %s, restore every etcd member from %s and start it again"
                                % (layout.name, recover.describe_source(plan)))
            return self._result(True, self._describe(cluster, running), before)
        with st.cluster_lock(layout):
            t = time.monotonic()
            stopped = cluster.stop()
            if stopped:
                self.actions.append("stopped %s" % ", ".join(stopped))
            saved_token, saved_keys = cluster.data["token"], cluster.data.get("extra_sa_public_keys")
            previous_config = swapped = None
            try:
                cluster.data["token"] = rt.new_token()
                recover.restore_members(cluster, plan, suffix=".restore")
                previous_config = recover.install_encryption_config(cluster, plan)
                if recover.install_service_account_key(cluster, plan):
                    self.actions.append("accepting service-account tokens signed by the source cluster's key")
                recover.swap_data_dirs(cluster, ".restore", ".pre-restore")
                swapped = True
                st.save(layout, cluster.data)
                self.timings["etcd_restored"] = round(time.monotonic() - t, 2)
                self.actions.append("restored etcd from %s" % recover.describe_source(plan))
                self._start_all(cluster, restored=True)
            except BaseException as e:
                detail = str(e)
                try:
                    cluster.stop(force=True)
                    recover.remove_data_dirs(cluster, ".restore")
                    if swapped:
                        recover.roll_back_data_dirs(cluster, ".pre-restore")
                    if previous_config is not None:
                        rt.write_private(layout.config("encryption-config.yaml"), previous_config.decode("utf-8"))
                    cluster.data["token"] = saved_token
                    cluster.data["extra_sa_public_keys"] = saved_keys
                    st.save(layout, cluster.data)
                    self._heal(cluster)
                except Exception as cleanup:  # report both; the original error matters most
                    detail += " (putting the old data back also failed: %s)" % cleanup
                raise AdharError("restoring cluster %s from backup %s failed; its previous etcd data was put back: %s"
                                 % (layout.name, plan.backup, detail), **getattr(e, "details", {})) from None
            recover.remove_data_dirs(cluster, ".pre-restore")
        self.restored_from = plan.summary(time.monotonic() - self.t0)
        self.actions.append("cluster ready")
        return self._result(True, self._describe(cluster), before)

    def ensure_present(self):
        return self._converge(start=False)

    def ensure_started(self):
        return self._converge(start=True)

    def ensure_stopped(self):
        layout, dummy, data = self._open(need_spec=False)
        if data is None:
            raise AdharError("cannot stop cluster %r: no such local cluster under %s" % (layout.name, self.root),
                             option="name")
        cluster = rt.Cluster(layout, data)
        running = cluster.running()
        before = self._summary(self._describe(cluster, running, probe=False))
        up = [n for n in cluster.process_names() if running[n]]
        if not up:
            return self._result(False, self._describe(cluster, running, probe=False), before)
        if self.check_mode:
            self.actions.append("would stop %s" % ", ".join(up))
            return self._result(True, self._describe(cluster, running, probe=False), before)
        with st.cluster_lock(layout):
            stopped = cluster.stop()
        self.actions.append("stopped %s" % ", ".join(stopped))
        return self._result(True, self._describe(cluster, probe=False), before)

    def ensure_absent(self):
        self._validate_name()
        self._check_kubeconfig_input()
        st.check_root(self.root)
        layout = self._layout()
        if not os.path.exists(layout.dir):
            return self._result(False, None, {"exists": False})
        data = st.load(layout) if os.path.isfile(layout.state_file) else None
        before = {"exists": True, "phase": data.get("phase") if data else "unknown"}
        if self.check_mode:
            self.actions.append("would stop every process of %s and remove %s" % (layout.name, layout.dir))
            return self._result(True, None, before)
        with st.cluster_lock(layout):
            self._remove(layout)
        return self._result(True, None, before)
