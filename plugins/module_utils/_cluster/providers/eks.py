# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider ``eks``: an Amazon EKS cluster with managed node groups, through boto3.

One run is: check the input (no calls) -> read the cluster and its node
groups -> check what needs AWS to judge (subnets and their Availability
Zones, IAM roles, the KMS key, the version step) -> plan -> write.  Every
error in the first three steps stops the task before any write call.  An
unchanged cluster costs read calls only; the kubeconfig token is presigned
locally (no call).

Updates follow EKS's rules: one kind of update per ``UpdateClusterConfig``
(logging, then endpoint access), one Kubernetes minor version per
``UpdateClusterVersion``, scaling through ``UpdateNodegroupConfig``, tags
through ``TagResource``/``UntagResource``; last, every managed node group
whose Kubernetes version is behind the control plane's is brought to it with
``UpdateNodegroupVersion``, one group at a time (``eks.upgrade_nodes``).  Each update is followed until it
is done (``DescribeUpdate``, or the cluster's status when the API returned no
update to follow) under one ``wait_timeout`` for the whole task.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.cloud import CloudProvider

# Kubernetes minor versions EKS runs (standard or extended support) that this release knows.  The one place
# the list lives; docs/eks.md and the module documentation point here.
EKS_VERSIONS = ("1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

NAME_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
ROLE_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
KMS_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
VERSION_RE = re.compile(r"^v?(1)\.(\d{1,3})$")

# Options of the cluster module that mean something to provider local only.
LOCAL_ONLY = ("control_plane", "nodes", "pod_cidr", "service_cidr", "cluster_id", "state_dir", "api_port",
              "encryption_at_rest", "audit_policy", "etcd_quota_bytes", "etcd_unsafe_no_fsync", "metrics_server", "bin_dir",
              "restore_from")

CLUSTER_FAILED = ("FAILED",)
NODEGROUP_FAILED = ("CREATE_FAILED", "DELETE_FAILED")
# Node groups UpdateNodegroupVersion cannot take: being removed, or never created.
NODEGROUP_NOT_UPDATABLE = ("CREATE_FAILED", "DELETING", "DELETE_FAILED")


def parse_version(value, option="kubernetes_version"):
    m = VERSION_RE.match(str(value).strip())
    if not m:
        raise AdharError("%s: %r is not a Kubernetes minor version like 1.31" % (option, value), option=option)
    return int(m.group(1)), int(m.group(2))


def version_step_error(current, desired, option="kubernetes_version"):
    """Why ``current`` -> ``desired`` is not one EKS upgrade step (``None`` when it is, or when they are equal)."""
    cur, want = parse_version(current), parse_version(desired)
    if want == cur:
        return None
    if want < cur:
        return "%s: cannot downgrade the cluster from %s to %s (EKS only upgrades)" % (option, current, desired)
    if want[1] != cur[1] + 1:
        return ("%s: EKS upgrades one minor version at a time; from %s the next step is 1.%d, not %s. Run the task "
                "once per version" % (option, current, cur[1] + 1, desired))
    return None


def _sorted(values):
    return sorted(values or [])


class EksProvider(CloudProvider):
    name = "eks"
    states = ("present", "absent")
    poll_first = 2.0
    poll_cap = 20.0
    wait_hint = "creating or updating EKS resources takes minutes, raise wait_timeout"
    user_suffix = "-aws"

    def __init__(self, module, connection=None):
        super().__init__(module)
        self.eks = dict(self.params.get("eks") or {})
        self._aws = connection

    # ------------------------------------------------------------------ plumbing

    @property
    def aws(self):
        if self._aws is None:
            from ansible_collections.adhar.platform.plugins.module_utils._aws.client import AwsConnection
            self._aws = AwsConnection(self.params, self.what)
        return self._aws

    def call(self, service, operation, what=None, **kwargs):
        return self.aws.call(service, operation, what=what or self.what, **kwargs)

    def _missing(self, service, operation, codes, **kwargs):
        """``call`` that returns ``None`` when AWS answers one of ``codes`` (a thing that does not exist)."""
        try:
            return self.call(service, operation, **kwargs)
        except AdharError as exc:
            if exc.details.get("aws_error_code") in codes:
                return None
            raise

    # ------------------------------------------------------------------ input (no calls)

    def _check_input(self):
        p, e = self.params, self.eks
        if not NAME_RE.match(self.cluster_name or ""):
            raise AdharError("name: %r is not a valid EKS cluster name: 1-100 letters, digits, '-' and '_', starting "
                             "with a letter or digit" % (self.cluster_name,), option="name")
        given_local = [o for o in LOCAL_ONLY if p.get(o) not in (None, {}, [])]
        if given_local:
            raise AdharError("%s: only provider local uses %s; leave %s out for provider eks"
                             % (given_local[0], ", ".join(given_local), "it" if len(given_local) == 1 else "them"),
                             option=given_local[0])
        if p.get("gke"):
            raise AdharError("gke: only provider gke uses it; give the EKS settings in eks", option="gke")
        if p.get("kubernetes_version") is not None:
            version = "%d.%d" % parse_version(p["kubernetes_version"])
            if version not in EKS_VERSIONS:
                raise AdharError("kubernetes_version: %s is not a Kubernetes version EKS supports (known: %s)"
                                 % (p["kubernetes_version"], ", ".join(EKS_VERSIONS)), option="kubernetes_version",
                                 supported=list(EKS_VERSIONS))
        self._check_role_arn(e.get("role_arn"), "eks.role_arn")
        self._check_subnet_ids(e.get("subnets"), "eks.subnets")
        for cidr in e.get("public_access_cidrs") or []:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise AdharError("eks.public_access_cidrs: %r is not a CIDR: %s" % (cidr, exc),
                                 option="eks.public_access_cidrs")
        if e.get("endpoint_public_access") is False and e.get("endpoint_private_access") is False:
            raise AdharError("eks.endpoint_public_access: the API endpoint needs public or private access (both would be "
                             "off)", option="eks.endpoint_public_access")
        key = e.get("kms_key_arn")
        if key is not None and not KMS_ARN_RE.match(key):
            raise AdharError("eks.kms_key_arn: %r is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)" % key,
                             option="eks.kms_key_arn")
        for k in (e.get("tags") or {}):
            if not k or k.lower().startswith("aws:"):
                raise AdharError("eks.tags: %r is not a tag key you can set (empty, or the reserved aws: prefix)" % k,
                                 option="eks.tags")
        seen = set()
        for i, ng in enumerate(e.get("node_groups") or []):
            where = "eks.node_groups[%d]" % i
            if not NAME_RE.match(ng.get("name") or "") or len(ng["name"]) > 63:
                raise AdharError("%s.name: %r is not a valid node group name: 1-63 letters, digits, '-' and '_'"
                                 % (where, ng.get("name")), option=where + ".name")
            if ng["name"] in seen:
                raise AdharError("%s.name: node group %r is listed twice" % (where, ng["name"]), option=where + ".name")
            seen.add(ng["name"])
            self._check_role_arn(ng.get("node_role_arn"), where + ".node_role_arn")
            self._check_subnet_ids(ng.get("subnets"), where + ".subnets")
            for opt in ("min_nodes", "max_nodes", "desired_nodes"):
                if ng.get(opt) is not None and ng[opt] < 0:
                    raise AdharError("%s.%s: %d is negative" % (where, opt, ng[opt]), option="%s.%s" % (where, opt))
            if ng.get("max_nodes") is not None and ng["max_nodes"] < 1:
                raise AdharError("%s.max_nodes: must be at least 1" % where, option=where + ".max_nodes")
            if ng.get("auto_scale") is False:
                for opt in ("min_nodes", "max_nodes"):
                    if ng.get(opt) is not None and ng.get("desired_nodes") is not None and ng[opt] != ng["desired_nodes"]:
                        raise AdharError("%s.%s: with auto_scale false the group has exactly desired_nodes (%d) nodes; "
                                         "leave %s out or set it to %d" % (where, opt, ng["desired_nodes"], opt,
                                                                           ng["desired_nodes"]), option="%s.%s" % (where, opt))
            self._check_scaling(self._given_scaling(ng), where)

    @staticmethod
    def _check_role_arn(arn, option):
        if arn is not None and not ROLE_ARN_RE.match(arn):
            raise AdharError("%s: %r is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)" % (option, arn),
                             option=option)

    @staticmethod
    def _check_subnet_ids(subnets, option):
        if subnets is None:
            return
        if not subnets:
            raise AdharError("%s: give at least one subnet ID" % option, option=option)
        for s in subnets:
            if not SUBNET_RE.match(s or ""):
                raise AdharError("%s: %r is not a subnet ID (subnet-0123456789abcdef0)" % (option, s), option=option)
        if len(set(subnets)) != len(subnets):
            raise AdharError("%s: a subnet is listed twice" % option, option=option)

    @staticmethod
    def _given_scaling(ng):
        """The scaling the task asks for (keys min/max/desired, ``None`` where the task leaves it open)."""
        lo, hi, want = ng.get("min_nodes"), ng.get("max_nodes"), ng.get("desired_nodes")
        if ng.get("auto_scale") is False and want is not None:
            lo = hi = want
        return {"min": lo, "max": hi, "desired": want}

    @staticmethod
    def _check_scaling(s, where):
        lo, hi, want = s["min"], s["max"], s["desired"]
        if lo is not None and hi is not None and lo > hi:
            raise AdharError("%s.min_nodes: %d is greater than max_nodes %d" % (where, lo, hi), option=where + ".min_nodes")
        if want is not None:
            if lo is not None and want < lo:
                raise AdharError("%s.desired_nodes: %d is outside [min_nodes, max_nodes] = [%d, %s]"
                                 % (where, want, lo, hi if hi is not None else "-"), option=where + ".desired_nodes")
            if hi is not None and want > hi:
                raise AdharError("%s.desired_nodes: %d is outside [min_nodes, max_nodes] = [%s, %d]"
                                 % (where, want, lo if lo is not None else "-", hi), option=where + ".desired_nodes")

    # ------------------------------------------------------------------ reads

    def _read(self):
        found = self._missing("eks", "describe_cluster", ("ResourceNotFoundException",), name=self.cluster_name)
        if found is None:
            return None, {}
        cluster = found["cluster"]
        groups = {}
        for ng_name in self.aws.paginate("eks", "list_nodegroups", "nodegroups", what=self.what,
                                         clusterName=self.cluster_name):
            ng = self._missing("eks", "describe_nodegroup", ("ResourceNotFoundException",),
                               clusterName=self.cluster_name, nodegroupName=ng_name)
            if ng is not None:
                groups[ng_name] = ng["nodegroup"]
        return cluster, groups

    def _subnets(self, ids, option):
        """``{subnet id: (az, vpc)}`` for ``ids``; an unknown subnet is an error naming ``option``."""
        try:
            found = self.aws.paginate("ec2", "describe_subnets", "Subnets", what=option, SubnetIds=list(ids))
        except AdharError as exc:
            if exc.details.get("aws_error_code") == "InvalidSubnetID.NotFound":
                raise AdharError(exc.msg, option=option, aws_error_code="InvalidSubnetID.NotFound") from exc
            raise
        info = {s["SubnetId"]: (s.get("AvailabilityZone"), s.get("VpcId")) for s in found}
        missing = [s for s in ids if s not in info]
        if missing:
            raise AdharError("%s: subnet %s does not exist" % (option, ", ".join(missing)), option=option)
        return info

    def _check_subnets_live(self, subnets, option, ha):
        info = self._subnets(subnets, option)
        vpcs = sorted({v for dummy, v in info.values() if v})
        if len(vpcs) > 1:
            raise AdharError("%s: the subnets are in %d VPCs (%s); an EKS cluster lives in one VPC"
                             % (option, len(vpcs), ", ".join(vpcs)), option=option)
        zones = sorted({z for z, dummy in info.values() if z})
        if ha and len(zones) < 2:
            raise AdharError("%s: ha needs subnets in at least two Availability Zones; the %d subnet%s given %s in %d "
                             "(%s)" % (option, len(subnets), "" if len(subnets) == 1 else "s",
                                       "is" if len(subnets) == 1 else "are", len(zones), ", ".join(zones)),
                             option=option, availability_zones=zones)
        return info

    def _check_role_live(self, arn, option):
        role = ROLE_ARN_RE.match(arn).group(1)
        try:
            self.call("iam", "get_role", what=option, RoleName=role)
        except AdharError as exc:
            code = exc.details.get("aws_error_code")
            if code == "NoSuchEntity":
                raise AdharError("%s: IAM role %r (%s) does not exist" % (option, role, arn), option=option,
                                 aws_error_code=code) from exc
            self.module.warn("%s: could not check that IAM role %r exists (%s); going on" % (option, role, exc.msg))

    def _check_key_live(self, arn):
        try:
            meta = self.call("kms", "describe_key", what="eks.kms_key_arn", KeyId=arn)["KeyMetadata"]
        except AdharError as exc:
            code = exc.details.get("aws_error_code")
            if code == "NotFoundException":
                raise AdharError("eks.kms_key_arn: KMS key %s does not exist" % arn, option="eks.kms_key_arn",
                                 aws_error_code=code) from exc
            self.module.warn("eks.kms_key_arn: could not check the KMS key (%s); going on" % exc.msg)
            return
        if meta.get("KeyState") not in (None, "Enabled"):
            raise AdharError("eks.kms_key_arn: KMS key %s is %s, not Enabled" % (arn, meta.get("KeyState")),
                             option="eks.kms_key_arn")

    # ------------------------------------------------------------------ model

    @staticmethod
    def _cluster_model(c, groups):
        """The managed fields of a described cluster (what diff shows)."""
        if c is None:
            return {"exists": False}
        vpc = c.get("resourcesVpcConfig") or {}
        logs = set()
        for entry in (c.get("logging") or {}).get("clusterLogging") or []:
            if entry.get("enabled"):
                logs.update(entry.get("types") or [])
        keys = [(e.get("provider") or {}).get("keyArn") for e in c.get("encryptionConfig") or []]
        return {
            "exists": True,
            "version": c.get("version"),
            "role_arn": c.get("roleArn"),
            "subnets": _sorted(vpc.get("subnetIds")),
            "endpoint_public_access": vpc.get("endpointPublicAccess"),
            "endpoint_private_access": vpc.get("endpointPrivateAccess"),
            "public_access_cidrs": _sorted(vpc.get("publicAccessCidrs")),
            "logging": sorted(logs),
            "kms_key_arn": next((k for k in keys if k), None),
            "tags": dict(c.get("tags") or {}),
            "node_groups": {n: EksProvider._group_model(g) for n, g in sorted(groups.items())},
        }

    @staticmethod
    def _group_model(g):
        s = g.get("scalingConfig") or {}
        return {
            "version": g.get("version"),
            "instance_types": list(g.get("instanceTypes") or []),
            "min_nodes": s.get("minSize"),
            "max_nodes": s.get("maxSize"),
            "desired_nodes": s.get("desiredSize"),
            "node_role_arn": g.get("nodeRole"),
            "subnets": _sorted(g.get("subnets")),
        }

    # ------------------------------------------------------------------ plan

    def _plan(self, cluster, groups):
        """Check everything that needs the current state, then return ``(steps, after model)``; no writes."""
        p, e = self.params, self.eks
        ha = bool(p.get("ha"))
        before = self._cluster_model(cluster, groups)
        steps = []
        if cluster is None:
            for opt in ("role_arn", "subnets"):
                if not e.get(opt):
                    raise AdharError("eks.%s is required to create EKS cluster %s" % (opt, self.cluster_name),
                                     option="eks." + opt)
            cluster_subnets = list(e["subnets"])
            self._check_subnets_live(cluster_subnets, "eks.subnets", ha)
            self._check_role_live(e["role_arn"], "eks.role_arn")
            if e.get("kms_key_arn"):
                self._check_key_live(e["kms_key_arn"])
            logging = e.get("logging")
            if logging is None:
                logging = ["audit"] if ha else []
            after = {
                "exists": True,
                "version": "%d.%d" % parse_version(p["kubernetes_version"]) if p.get("kubernetes_version") else None,
                "role_arn": e["role_arn"],
                "subnets": _sorted(cluster_subnets),
                "endpoint_public_access": True if e.get("endpoint_public_access") is None else e["endpoint_public_access"],
                "endpoint_private_access": bool(e.get("endpoint_private_access")),
                "public_access_cidrs": _sorted(e.get("public_access_cidrs") or ["0.0.0.0/0"]),
                "logging": sorted(set(logging)),
                "kms_key_arn": e.get("kms_key_arn"),
                "tags": dict(e.get("tags") or {}),
                "node_groups": {},
            }
            steps.append(("create_cluster", None))
        else:
            after = self._plan_cluster_update(before, steps)
            cluster_subnets = before["subnets"]
        self._plan_node_groups(before, after, cluster_subnets, steps, ha)
        self._plan_node_versions(groups, after, steps)
        return steps, before, after

    def _plan_cluster_update(self, before, steps):
        p, e = self.params, self.eks
        after = dict(before, node_groups=dict(before["node_groups"]))
        for opt, field in (("role_arn", "role_arn"), ("kms_key_arn", "kms_key_arn")):
            if e.get(opt) is not None and e[opt] != before[field]:
                raise AdharError("eks.%s: cannot change on an existing cluster (it has %s, the task asks for %s)"
                                 % (opt, before[field] or "none", e[opt]), option="eks." + opt)
        # An EKS cluster always has subnets; an answer without them tells nothing to compare with.
        if e.get("subnets") is not None and before["subnets"] and _sorted(e["subnets"]) != before["subnets"]:
            raise AdharError("eks.subnets: cannot change on an existing cluster (it uses %s, the task asks for %s)"
                             % (", ".join(before["subnets"]), ", ".join(_sorted(e["subnets"]))), option="eks.subnets")
        if p.get("kubernetes_version") is not None:
            want = "%d.%d" % parse_version(p["kubernetes_version"])
            problem = version_step_error(before["version"], want)
            if problem:
                raise AdharError(problem, option="kubernetes_version", current_version=before["version"])
            if want != before["version"]:
                steps.append(("update_version", want))
                after["version"] = want
        if e.get("logging") is not None and sorted(set(e["logging"])) != before["logging"]:
            steps.append(("update_logging", sorted(set(e["logging"]))))
            after["logging"] = sorted(set(e["logging"]))
        access = {}
        for opt in ("endpoint_public_access", "endpoint_private_access"):
            if e.get(opt) is not None and e[opt] != before[opt]:
                access[opt] = e[opt]
        if e.get("public_access_cidrs") is not None and _sorted(e["public_access_cidrs"]) != before["public_access_cidrs"]:
            access["public_access_cidrs"] = _sorted(e["public_access_cidrs"])
        if access:
            steps.append(("update_endpoint", access))
            after.update(access)
        if after["endpoint_public_access"] is False and after["endpoint_private_access"] is False:
            raise AdharError("eks.endpoint_public_access: the API endpoint needs public or private access (both would be "
                             "off)", option="eks.endpoint_public_access")
        if e.get("tags") is not None:
            want_tags = dict(e["tags"])
            add = {k: v for k, v in want_tags.items() if before["tags"].get(k) != v}
            remove = []
            if e.get("purge_tags", True):
                remove = sorted(k for k in before["tags"] if k not in want_tags and not k.lower().startswith("aws:"))
            if add or remove:
                steps.append(("update_tags", (add, remove)))
                tags = {k: v for k, v in before["tags"].items() if k not in remove}
                tags.update(add)
                after["tags"] = tags
        return after

    def _plan_node_groups(self, before, after, cluster_subnets, steps, ha):
        new_roles, new_subnets = [], {}
        for i, ng in enumerate(self.eks.get("node_groups") or []):
            where = "eks.node_groups[%d]" % i
            name = ng["name"]
            current = before.get("node_groups", {}).get(name) if before["exists"] else None
            given = self._given_scaling(ng)
            if current is None:
                if not ng.get("node_role_arn"):
                    raise AdharError("%s.node_role_arn is required to create node group %s" % (where, name),
                                     option=where + ".node_role_arn")
                want = self._new_scaling(ng, given, where)
                subnets = list(ng.get("subnets") or cluster_subnets)
                model = {
                    # EKS gives a new group the control plane's version.
                    "version": after["version"],
                    "instance_types": list(ng.get("instance_types") or ["t3.medium"]),
                    "min_nodes": want["min"], "max_nodes": want["max"], "desired_nodes": want["desired"],
                    "node_role_arn": ng["node_role_arn"],
                    "subnets": _sorted(subnets),
                }
                new_roles.append((ng["node_role_arn"], where + ".node_role_arn"))
                if ng.get("subnets"):
                    new_subnets[where + ".subnets"] = subnets
                steps.append(("create_node_group", (name, model)))
                after["node_groups"][name] = model
                continue
            for opt in ("instance_types", "node_role_arn", "subnets"):
                if ng.get(opt) is None:
                    continue
                have, want_v = current[opt], ng[opt]
                if opt == "subnets":
                    have, want_v = _sorted(have), _sorted(want_v)
                if have != want_v:
                    raise AdharError("%s.%s: cannot change on existing node group %s (it has %s, the task asks for %s); "
                                     "create a node group with another name instead" % (where, opt, name, have, want_v),
                                     option="%s.%s" % (where, opt))
            want = self._merged_scaling(current, given, where)
            have = (current["min_nodes"], current["max_nodes"], current["desired_nodes"])
            if (want["min"], want["max"], want["desired"]) != have:
                model = dict(current, min_nodes=want["min"], max_nodes=want["max"], desired_nodes=want["desired"])
                steps.append(("scale_node_group", (name, model)))
                after["node_groups"][name] = model
        for option, subnets in new_subnets.items():
            self._check_subnets_live(subnets, option, ha)
        checked = set()
        for arn, option in new_roles:
            if arn not in checked:
                checked.add(arn)
                self._check_role_live(arn, option)

    def _plan_node_versions(self, groups, after, steps):
        """One ``update_node_version`` step per existing node group behind the control plane's (planned) version."""
        target = after.get("version")
        if not target or not self.eks.get("upgrade_nodes", True):
            return
        for name, g in sorted(groups.items()):
            have = g.get("version")
            if not have or parse_version(have, "node group %s version" % name) >= parse_version(target):
                continue
            if g.get("status") in NODEGROUP_NOT_UPDATABLE:
                self.module.warn("node group %s runs Kubernetes %s, behind the control plane's %s, but is %s: its "
                                 "version is left alone" % (name, have, target, g["status"]))
                continue
            if g.get("amiType") == "CUSTOM":
                self.module.warn("node group %s runs Kubernetes %s, behind the control plane's %s, on a custom AMI: "
                                 "update its launch template's AMI and version (UpdateNodegroupVersion with "
                                 "launchTemplate); this module leaves it alone" % (name, have, target))
                continue
            steps.append(("update_node_version", (name, have, target)))
            after["node_groups"][name] = dict(after["node_groups"].get(name) or {}, version=target)

    def _new_scaling(self, ng, given, where):
        lo, hi, want = given["min"], given["max"], given["desired"]
        if ng.get("auto_scale") and hi is None:
            raise AdharError("%s.max_nodes is required to create node group %s with auto_scale" % (where, ng["name"]),
                             option=where + ".max_nodes")
        if want is None:
            want = lo if lo is not None else 2
            if hi is not None:
                want = min(want, hi)
        lo = want if lo is None else lo
        hi = max(want, lo) if hi is None else hi
        s = {"min": lo, "max": hi, "desired": want}
        self._check_scaling(s, where)
        if hi < 1:
            raise AdharError("%s.max_nodes: must be at least 1" % where, option=where + ".max_nodes")
        return s

    def _merged_scaling(self, current, given, where):
        lo = current["min_nodes"] if given["min"] is None else given["min"]
        hi = current["max_nodes"] if given["max"] is None else given["max"]
        if given["desired"] is not None:
            want = given["desired"]
        else:
            # Left out: keep what the group has now (an autoscaler may have moved it), within the new bounds.
            want = current["desired_nodes"]
            if want is not None and lo is not None:
                want = max(want, lo)
            if want is not None and hi is not None:
                want = min(want, hi)
        s = {"min": lo, "max": hi, "desired": want}
        self._check_scaling(s, where)
        return s

    # ------------------------------------------------------------------ writes

    def _execute(self, steps, after):
        for kind, arg in steps:
            getattr(self, "_do_" + kind)(arg, after)

    def _do_create_cluster(self, dummy, after):
        e = self.eks
        vpc = {"subnetIds": list(e["subnets"])}
        for opt, key in (("endpoint_public_access", "endpointPublicAccess"),
                         ("endpoint_private_access", "endpointPrivateAccess"),
                         ("public_access_cidrs", "publicAccessCidrs")):
            if e.get(opt) is not None:
                vpc[key] = e[opt]
        kwargs = {"name": self.cluster_name, "roleArn": e["role_arn"], "resourcesVpcConfig": vpc,
                  "logging": self._logging(after["logging"])}
        if after["version"]:
            kwargs["version"] = after["version"]
        if after["tags"]:
            kwargs["tags"] = after["tags"]
        if after["kms_key_arn"]:
            kwargs["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": after["kms_key_arn"]}}]
        self.call("eks", "create_cluster", **kwargs)
        self.actions.append("created EKS cluster %s" % self.cluster_name)
        self._wait_cluster_active("creating")

    @staticmethod
    def _logging(enabled):
        on = [t for t in LOG_TYPES if t in enabled]
        off = [t for t in LOG_TYPES if t not in enabled]
        entries = []
        if on:
            entries.append({"types": on, "enabled": True})
        if off:
            entries.append({"types": off, "enabled": False})
        return {"clusterLogging": entries}

    def _do_update_version(self, version, dummy):
        resp = self.call("eks", "update_cluster_version", name=self.cluster_name, version=version)
        self._follow_update(resp.get("update"), "the version update to %s" % version)
        self.actions.append("updated the Kubernetes version to %s" % version)

    def _do_update_logging(self, enabled, dummy):
        resp = self.call("eks", "update_cluster_config", name=self.cluster_name, logging=self._logging(enabled))
        self._follow_update(resp.get("update"), "the logging update")
        self.actions.append("set control-plane logging to %s" % (", ".join(enabled) or "none"))

    def _do_update_endpoint(self, access, after):
        # The whole endpoint setting goes in one request, so nothing is left to the API's idea of "unchanged".
        vpc = {"endpointPublicAccess": after["endpoint_public_access"],
               "endpointPrivateAccess": after["endpoint_private_access"]}
        if after["endpoint_public_access"] and after["public_access_cidrs"]:
            vpc["publicAccessCidrs"] = after["public_access_cidrs"]
        vpc = {k: v for k, v in vpc.items() if v is not None}
        resp = self.call("eks", "update_cluster_config", name=self.cluster_name, resourcesVpcConfig=vpc)
        self._follow_update(resp.get("update"), "the endpoint access update")
        self.actions.append("updated endpoint access (%s)" % ", ".join(sorted(access)))

    def _do_update_tags(self, change, dummy):
        add, remove = change
        arn = self.call("eks", "describe_cluster", name=self.cluster_name)["cluster"]["arn"]
        if add:
            self.call("eks", "tag_resource", resourceArn=arn, tags=add)
            self.actions.append("tagged the cluster: %s" % ", ".join(sorted(add)))
        if remove:
            self.call("eks", "untag_resource", resourceArn=arn, tagKeys=remove)
            self.actions.append("removed tags: %s" % ", ".join(remove))

    def _do_create_node_group(self, arg, after):
        name, model = arg
        kwargs = {
            "clusterName": self.cluster_name, "nodegroupName": name,
            "scalingConfig": {"minSize": model["min_nodes"], "maxSize": model["max_nodes"],
                              "desiredSize": model["desired_nodes"]},
            "subnets": model["subnets"], "instanceTypes": model["instance_types"], "nodeRole": model["node_role_arn"],
        }
        if model.get("version"):
            # the control plane's version, said rather than left to the API's default
            kwargs["version"] = model["version"]
        if after.get("tags"):
            kwargs["tags"] = after["tags"]
        self.call("eks", "create_nodegroup", **kwargs)
        self.actions.append("created node group %s" % name)
        self._wait_node_group(name, "creating")

    def _do_scale_node_group(self, arg, dummy):
        name, model = arg
        resp = self.call("eks", "update_nodegroup_config", clusterName=self.cluster_name, nodegroupName=name,
                         scalingConfig={"minSize": model["min_nodes"], "maxSize": model["max_nodes"],
                                        "desiredSize": model["desired_nodes"]})
        self._follow_update(resp.get("update"), "the scaling of node group %s" % name, nodegroup=name)
        self.actions.append("scaled node group %s to min %d, max %d, desired %d"
                            % (name, model["min_nodes"], model["max_nodes"], model["desired_nodes"]))

    def _do_update_node_version(self, arg, dummy):
        name, have, target = arg
        started = time.monotonic()
        resp = self.call("eks", "update_nodegroup_version", clusterName=self.cluster_name, nodegroupName=name,
                         version=target)
        self._follow_update(resp.get("update"), "the version update of node group %s to %s" % (name, target),
                            nodegroup=name)
        self.actions.append("updated node group %s from Kubernetes %s to %s in %ds"
                            % (name, have, target, round(time.monotonic() - started)))

    # ------------------------------------------------------------------ waiting

    def _wait_cluster_active(self, doing):
        def read():
            return self.call("eks", "describe_cluster", name=self.cluster_name)["cluster"]

        def done(c):
            if c.get("status") in CLUSTER_FAILED:
                raise AdharError("%s: EKS reports status %s after %s it" % (self.what, c["status"], doing), status=c["status"])
            return c.get("status") == "ACTIVE"
        self._poll(read, done, "the cluster to become ACTIVE")

    def _wait_node_group(self, name, doing):
        def read():
            return self.call("eks", "describe_nodegroup", clusterName=self.cluster_name, nodegroupName=name)["nodegroup"]

        def done(g):
            if g.get("status") in NODEGROUP_FAILED:
                issues = [i.get("message") for i in (g.get("health") or {}).get("issues") or []]
                detail = "; ".join(issues) or "no detail"
                raise AdharError("%s: node group %s is %s after %s it: %s" % (self.what, name, g["status"], doing, detail),
                                 status=g["status"])
            return g.get("status") == "ACTIVE"
        self._poll(read, done, "node group %s to become ACTIVE" % name)

    def _follow_update(self, update, what, nodegroup=None):
        """Wait for an update EKS accepted: through DescribeUpdate, or the cluster's status when no update came back."""
        if not update or not update.get("id"):
            if nodegroup:
                self._wait_node_group(nodegroup, "updating")
            else:
                self._wait_cluster_active("updating")
            return
        kwargs = {"name": self.cluster_name, "updateId": update["id"]}
        if nodegroup:
            kwargs["nodegroupName"] = nodegroup

        def read():
            if update.get("status") in ("Successful", "Failed", "Cancelled"):
                return update
            return self.call("eks", "describe_update", **kwargs)["update"]

        def done(u):
            if u.get("status") in ("Failed", "Cancelled"):
                errors = ["%s: %s" % (x.get("errorCode"), x.get("errorMessage")) for x in u.get("errors") or []]
                raise AdharError("%s: %s %s: %s" % (self.what, what, u["status"].lower(), "; ".join(errors) or "no detail"),
                                 update_id=u.get("id"))
            return u.get("status") == "Successful"
        self._poll(read, done, what)

    # ------------------------------------------------------------------ results

    def _kubeconfig(self, cluster):
        from ansible_collections.adhar.platform.plugins.module_utils._aws.eks_token import eks_token
        token = eks_token(self.aws.session, self.cluster_name, endpoint_url=self.aws.endpoint_url)
        config = self._token_kubeconfig(cluster.get("endpoint"), (cluster.get("certificateAuthority") or {}).get("data"),
                                        token["token"])
        return config, token["expiration"]

    def _facts(self, cluster, groups, kubeconfig_path=None):
        ng_facts = []
        for name, g in sorted(groups.items()):
            s = g.get("scalingConfig") or {}
            ng_facts.append({"name": name, "arn": g.get("nodegroupArn"), "status": g.get("status"),
                             "version": g.get("version"), "instance_types": g.get("instanceTypes") or [],
                             "min_nodes": s.get("minSize"), "max_nodes": s.get("maxSize"),
                             "desired_nodes": s.get("desiredSize"), "subnets": g.get("subnets") or []})
        return {
            "name": self.cluster_name,
            "provider": "eks",
            "arn": cluster.get("arn"),
            "region": self.aws.region,
            "api_endpoint": cluster.get("endpoint"),
            "version": cluster.get("version"),
            "server_version": cluster.get("version"),
            "platform_version": cluster.get("platformVersion"),
            "status": cluster.get("status"),
            "kubeconfig": kubeconfig_path,
            "context": "adhar-" + self.cluster_name,
            "control_plane": [],
            "node_groups": ng_facts,
            "nodes": {"count": sum(n["desired_nodes"] or 0 for n in ng_facts)},
        }

    # ------------------------------------------------------------------ states

    def ensure_present(self):
        self._check_input()
        cluster, groups = self._read()
        if cluster is not None and cluster.get("status") == "DELETING":
            raise AdharError("%s: the EKS cluster is being deleted; run the task again once it is gone" % self.what,
                             status="DELETING")
        if cluster is not None and cluster.get("status") in ("CREATING", "UPDATING") and not self.check_mode:
            # An earlier run that timed out, or someone else's update: plan against the settled cluster.
            self.actions.append("waited for the cluster to leave %s" % cluster["status"])
            self._wait_cluster_active("waiting on")
            cluster, groups = self._read()
        steps, before, after = self._plan(cluster, groups)
        result = {"changed": bool(steps), "actions": self.actions, "diff": {"before": before, "after": after}}
        if self.check_mode:
            self.actions.extend(_describe_step(s) for s in steps)
            if cluster is None:
                result["cluster"] = {"name": self.cluster_name, "provider": "eks", "status": None, "node_groups": []}
                return result
        else:
            self._execute(steps, after)
            if steps:
                cluster, groups = self._read()
        path = self._add_kubeconfig(result, *self._kubeconfig(cluster))
        result["cluster"] = self._facts(cluster, groups, path)
        if not self.eks.get("upgrade_nodes", True) and not self.check_mode:
            for name, g in sorted(groups.items()):
                if g.get("version") and cluster.get("version") and g["version"] != cluster["version"]:
                    self.module.warn("node group %s runs Kubernetes %s, the control plane %s; eks.upgrade_nodes is "
                                     "false, so its version is left alone" % (name, g["version"], cluster["version"]))
        return result

    def ensure_absent(self):
        if not NAME_RE.match(self.cluster_name or ""):
            raise AdharError("name: %r is not a valid EKS cluster name" % (self.cluster_name,), option="name")
        cluster, groups = self._read()
        before = self._cluster_model(cluster, groups)
        result = {"changed": cluster is not None, "actions": self.actions, "cluster": None,
                  "diff": {"before": before, "after": {"exists": False}}}
        if cluster is None:
            self._unmerge()
            return result
        if self.check_mode:
            self.actions.extend(["would delete node group %s" % n for n in sorted(groups)])
            self.actions.append("would delete EKS cluster %s" % self.cluster_name)
            return result
        for name, g in sorted(groups.items()):
            if g.get("status") != "DELETING":
                self.call("eks", "delete_nodegroup", clusterName=self.cluster_name, nodegroupName=name)
                self.actions.append("deleted node group %s" % name)
        for name in sorted(groups):
            self._poll(functools.partial(self._missing, "eks", "describe_nodegroup", ("ResourceNotFoundException",),
                                         clusterName=self.cluster_name, nodegroupName=name),
                       lambda g: g is None, "node group %s to be deleted" % name)
        if cluster.get("status") != "DELETING":
            self.call("eks", "delete_cluster", name=self.cluster_name)
        self.actions.append("deleted EKS cluster %s" % self.cluster_name)
        self._poll(lambda: self._missing("eks", "describe_cluster", ("ResourceNotFoundException",), name=self.cluster_name),
                   lambda c: c is None, "the cluster to be deleted")
        self._unmerge()
        return result


def _describe_step(step):
    kind, arg = step
    if kind == "create_cluster":
        return "would create the EKS cluster"
    if kind == "update_version":
        return "would update the Kubernetes version to %s" % arg
    if kind == "update_logging":
        return "would set control-plane logging to %s" % (", ".join(arg) or "none")
    if kind == "update_endpoint":
        return "would update endpoint access (%s)" % ", ".join(sorted(arg))
    if kind == "update_tags":
        add, remove = arg
        return "would tag the cluster (set %s; remove %s)" % (", ".join(sorted(add)) or "none", ", ".join(remove) or "none")
    if kind == "create_node_group":
        return "would create node group %s" % arg[0]
    if kind == "update_node_version":
        return "would update node group %s from Kubernetes %s to %s" % arg
    if kind == "scale_node_group":
        m = arg[1]
        return "would scale node group %s to min %d, max %d, desired %d" % (arg[0], m["min_nodes"], m["max_nodes"],
                                                                            m["desired_nodes"])
    return "would %s" % kind


# The cluster module's ``eks`` option (documented in plugins/modules/cluster.py).
EKS_ARG_SPEC = dict(type="dict", options=dict(
    role_arn=dict(type="str"),
    subnets=dict(type="list", elements="str"),
    endpoint_public_access=dict(type="bool"),
    endpoint_private_access=dict(type="bool"),
    public_access_cidrs=dict(type="list", elements="str"),
    logging=dict(type="list", elements="str", choices=list(LOG_TYPES)),
    kms_key_arn=dict(type="str", no_log=False),
    tags=dict(type="dict"),
    purge_tags=dict(type="bool", default=True),
    upgrade_nodes=dict(type="bool", default=True),
    node_groups=dict(type="list", elements="dict", options=dict(
        name=dict(type="str", required=True),
        instance_types=dict(type="list", elements="str"),
        auto_scale=dict(type="bool"),
        min_nodes=dict(type="int"),
        max_nodes=dict(type="int"),
        desired_nodes=dict(type="int"),
        node_role_arn=dict(type="str"),
        subnets=dict(type="list", elements="str"),
    )),
))


def describe(module, name):
    """Provider facts (``_cluster.describe``) of EKS cluster ``name``: reads only (DescribeCluster, ListNodegroups,
    DescribeNodegroup, DescribeSubnets), through the AWS connection options of ``module``."""
    from ansible_collections.adhar.platform.plugins.module_utils._cluster import describe as cd

    provider = EksProvider(cd.cloud_module(module, name))
    if not NAME_RE.match(name or ""):
        raise AdharError("cluster: %r is not a valid EKS cluster name" % (name,), option="cluster")
    cluster, groups = provider._read()
    if cluster is None:
        raise AdharError("cluster: there is no EKS cluster %r in %s" % (name, provider.aws.region), option="cluster",
                         region=provider.aws.region)
    model = provider._cluster_model(cluster, groups)
    notes = ["the control plane is run by EKS: its size is not visible; the config leaves controlPlane out"]
    ha = None
    if model["subnets"]:
        zones = sorted({z for z, dummy in provider._subnets(model["subnets"], "cluster").values() if z})
        ha = len(zones) >= 2
        if not ha:
            notes.append("the cluster's subnets are in one Availability Zone (%s): not highly available" % ", ".join(zones))
    else:
        notes.append("EKS answered without the cluster's subnets: whether they span two Availability Zones (ha) is "
                     "not known; ha is left out")
    groups_facts, types_seen = [], set()
    total = {"min": 0, "max": 0, "desired": 0}
    for ng_name, g in sorted(model["node_groups"].items()):
        groups_facts.append(dict(g, name=ng_name, status=groups[ng_name].get("status")))
        types_seen.update(g["instance_types"])
        total["min"] += g["min_nodes"] or 0
        total["max"] += g["max_nodes"] or 0
        total["desired"] += g["desired_nodes"] or 0
    if not groups:
        notes.append("the cluster has no managed node groups: worker nodes are left out")
    if len(types_seen) > 1:
        notes.append("the node groups use several instance types (%s): nodeInstanceType is left out"
                     % ", ".join(sorted(types_seen)))
    service_cidr = (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")
    token_config, dummy = provider._kubeconfig(cluster)
    connection, kubeconfig, context = cd.cloud_connection(module, token_config)
    return cd.provider_facts(
        name=name, provider="eks", provider_type="aws", region=provider.aws.region,
        kubernetes_version="v" + cluster["version"] if cluster.get("version") else None,
        ha=ha, nodes_count=total["desired"] if groups else None, service_cidr=service_cidr,
        encryption_at_rest=bool(model["kms_key_arn"]), kubeconfig=kubeconfig, context=context, connection=connection,
        notes=notes, status=cluster.get("status"), api_endpoint=cluster.get("endpoint"),
        auto_scale=any(g["min_nodes"] != g["max_nodes"] for g in groups_facts) if groups else None,
        min_nodes=total["min"] if groups else None, max_nodes=total["max"] if groups else None,
        instance_type=next(iter(types_seen)) if len(types_seen) == 1 else None,
        endpoint_public_access=model["endpoint_public_access"], endpoint_private_access=model["endpoint_private_access"],
        provider_config={}, node_groups=groups_facts,
    )
