#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster
short_description: Create, start, stop and remove Kubernetes clusters, or register existing ones
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Manages a Kubernetes cluster through a provider.
  - Provider C(local) runs a real control plane as local processes, no containers needed. Each control-plane member runs
    etcd (TLS for clients and peers) and kube-apiserver; kube-controller-manager and kube-scheduler run on every member
    with leader election, each talking to the API server of its own member (as kubeadm does); with more than one member
    HAProxy balances the API servers for clients; kwok simulates O(nodes.count) nodes so Pods become Running and
    Deployments Available.
  - Every process of a local cluster runs under the cluster's own supervisord (Python package C(supervisor) on the host
    that runs the module), which restarts a process that dies (etcd, an API server, HAProxy, a controller, kwok) within
    seconds, with no task run. supervisord detaches from the task; it and the processes write logs and pidfiles under
    the cluster's state directory. Processes are only ever stopped through supervisord or their recorded pid (and start
    time), never by name.
  - Provider C(existing) registers a cluster reached through O(kubeconfig)/O(context) (or O(host)), checks that it
    answers, and returns its facts. It never changes or deletes that cluster.
  - Provider C(eks) manages an Amazon EKS cluster and its managed node groups through boto3 (options O(eks), O(ha),
    O(kubernetes_version), O(wait_timeout), O(kubeconfig_out) and the AWS connection options). It returns the cluster's
    facts and a kubeconfig that authenticates with an EKS token. See C(docs/eks.md).
  - Provider C(gke) manages a Google Kubernetes Engine cluster and its node pools through the GKE REST API with
    google-auth (options O(gke), O(ha), O(kubernetes_version), O(wait_timeout), O(kubeconfig_out) and the GCP connection
    options). It returns the cluster's facts and a kubeconfig that authenticates with a Google access token. See
    C(docs/gke.md).
  - Provider C(kind) is accepted and always fails before anything changes, with one error naming the reason. Without
    a Docker engine (no socket at the path of E(DOCKER_HOST), else C(/var/run/docker.sock)) the error says that provider
    kind needs a Docker engine and names the socket path it looked for; with one, the error says that kind clusters are
    not implemented in this release (use provider C(local) for a cluster on this host).
  - Every input is validated before anything is written, started or allocated; a failed creation is rolled back.
  - For a cluster that exists, options left out keep the values it was created with (a play that only names the
    cluster does not ask to change it); options given must match, except O(nodes.count) and O(kubeconfig_out), which
    change in place, and O(kubernetes_version) of a local cluster, which changes by a rolling upgrade.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.aws
  - adhar.platform.gcp
  - adhar.platform.attributes
  - adhar.platform.wait.timeout
attributes:
  check_mode:
    support: full
    details:
      - Reports what would be created, started, stopped or removed; starts nothing and allocates nothing.
  diff_mode:
    support: full
    details:
      - Returns a summary of the cluster (exists, running, members, nodes, Kubernetes version) before and after.
      - For provider C(eks), the managed fields (version, role, subnets, endpoint access, logging, KMS key, tags and
        node group scaling) before and after.
      - For provider C(gke), the managed fields (location, master version, release channel, network, private endpoint,
        Workload Identity pool, labels and node pool machine type and autoscaling) before and after.
options:
  name:
    description:
      - Cluster name; 1-32 lower-case letters, digits and C(-), starting and ending with a letter or digit.
      - The kubeconfig context is named C(adhar-<name>).
    type: str
    required: true
  provider:
    description:
      - Where the cluster lives.
      - V(kind) is not implemented in this release and fails with the reason (see the description).
    type: str
    choices: [local, existing, eks, gke, kind]
    default: local
  state:
    description:
      - V(present) makes sure the cluster exists (a new one is started); an existing cluster's processes are left as they are.
      - V(started) also (re)starts every process that is not running, from the saved configuration, and waits until
        the control plane is ready. Use it to heal a degraded cluster, that is a process stopped through supervisord, one that
        supervisord gave up on (FATAL), or supervisord itself when it was killed (the processes it left running are
        stopped first and started again under a new supervisord).
      - V(stopped) stops every process and keeps the cluster's state for a later V(started).
      - V(absent) kills supervisord and every process through its recorded pid (never by name) and removes the state directory.
      - Provider C(existing) supports V(present) and V(absent) (which never deletes anything).
      - Provider C(eks) supports V(present) (create, or update what the task asks to change) and V(absent) (delete
        every node group, then the cluster, and wait until they are gone).
      - Provider C(gke) supports V(present) (create, or update what the task asks to change) and V(absent) (delete the
        cluster with its node pools and wait until it is gone).
    type: str
    choices: [present, started, stopped, absent]
    default: present
  ha:
    description:
      - Shortcut for O(control_plane.count=3). Conflicts with a different O(control_plane.count).
      - For provider C(eks), when the cluster is created its subnets (and those given to a new node group) must span at
        least two Availability Zones (checked with DescribeSubnets before anything is written), and control-plane
        logging defaults to V(audit).
      - For provider C(gke), V(true) asks for a regional cluster (O(gke.location) must be a region), V(false) for a zonal
        one (O(gke.location) must be a zone); left out, the kind of O(gke.location) decides.
    type: bool
  control_plane:
    description:
      - Control-plane members.
    type: dict
    suboptions:
      count:
        description:
          - Number of members (etcd + API server + controller manager + scheduler each). 1, 3 or 5; even numbers are refused.
          - Defaults to 3 when O(ha=true), else 1. Cannot change once the cluster exists.
        type: int
  nodes:
    description:
      - Simulated worker nodes.
    type: dict
    suboptions:
      count:
        description:
          - Number of kwok nodes. Can change on an existing running cluster (nodes are added or removed).
          - Defaults to 1.
        type: int
      volumes:
        description:
          - Provider C(local). Number of free persistent volumes to keep, with the StorageClass C(adhar-local)
            (C(kubernetes.io/no-provisioner), C(WaitForFirstConsumer)) and that many Available static C(local)
            PersistentVolumes, each a directory C(<state_dir>/<name>/volumes/<pv>) pinned to one kwok node.
          - The scheduler and the PV controller bind them to PersistentVolumeClaims of that class; every run of the
            module tops the free ones up again. M(adhar.platform.backup) captures their files, M(adhar.platform.restore)
            puts them back. See C(docs/backup.md).
          - 0 to 1000. V(0) creates only the StorageClass (enough for a restore, which makes a volume for each PVC it
            restores). Left out, nothing is created.
        type: int
  kubernetes_version:
    description:
      - Kubernetes release of the control plane. It must match the binaries found in O(bin_dir) (used as is), or
        else in the toolchain cache, which provides the release it pins (C(ADHAR_BIN_DIR) stands in for it) and the
        newest patch of the minor before it (add-on C(kubernetes-previous)). Defaults to the release pinned by the
        toolchain.
      - For provider C(local), changing it on an existing cluster is a rolling upgrade, one minor at a time (a newer
        patch of the same minor too). Skipping a minor or downgrading is refused before anything changes; the one
        downgrade allowed is back to the version an unfinished upgrade started from (a rollback). Member by member,
        each API server is drained in HAProxy, restarted on the new release and back in rotation once ready; then the
        controller-managers and the schedulers (the leader of each last), done once both lead again (a restarted
        leader's lease must expire first, up to 15 seconds); then the version the nodes report. A step
        that fails puts that process back on its old release and fails with the reason; a run that was interrupted is
        finished (or rolled back) by running again with the same version. A single-member cluster restarts its API
        server in place (a short outage). See C(docs/local-clusters.md).
      - For provider C(eks), a minor version such as V(1.31), one of the versions listed in C(docs/eks.md) (kept in
        C(EKS_VERSIONS) of C(plugins/module_utils/_cluster/providers/eks.py)); EKS's default when left out on creation. An
        existing cluster is upgraded one minor version at a time with UpdateClusterVersion; skipping a minor version
        or downgrading is refused before any call. Then every managed node group behind the control plane is updated
        to its version (see O(eks.upgrade_nodes)).
      - For provider C(gke), V(latest), a minor version such as V(1.31), a patch version V(1.31.4) or a full GKE version
        V(1.31.4-gke.1000); the release channel's default when left out on creation. An existing cluster's master is
        upgraded with C(clusters.update) (C(desiredMasterVersion)), one minor version at a time; a version the master
        already runs (V(1.31) for V(1.31.4-gke.1000)) changes nothing, and skipping a minor version or downgrading is
        refused before any call. Then every node pool behind the master is updated to the master's version (see
        O(gke.upgrade_nodes)).
    type: str
  pod_cidr:
    description:
      - Pod network (IPv4). Each node gets a /24 from it. Defaults to C(10.244.0.0/16).
    type: str
  service_cidr:
    description:
      - Service network (IPv4, /12 to /28). Defaults to C(10.96.0.0/16). Must not overlap O(pod_cidr).
    type: str
  cluster_id:
    description:
      - Numeric cluster identity, 1-255, unique per mesh (used by the multi-cluster mesh). Defaults to 1.
    type: int
  state_dir:
    description:
      - Directory holding local clusters (one sub-directory per cluster).
      - Defaults to C(ADHAR_STATE_DIR), else C($XDG_STATE_HOME/adhar), else C(~/.local/state/adhar).
    type: path
  api_port:
    description:
      - Fixed API port on 127.0.0.1 (the load balancer's when there are several members). Free ports are chosen when
        omitted; a port already in use is an error before anything is created.
    type: int
  encryption_at_rest:
    description:
      - Encrypt resources in etcd with an EncryptionConfiguration (key generated and kept, 0600, in the state directory).
      - Set when a local cluster is created; other settings for an existing cluster fail with the saved and requested
        values.
    type: dict
    suboptions:
      enabled:
        description: Turn encryption on.
        type: bool
        default: false
      provider:
        description: Encryption provider.
        type: str
        choices: [secretbox, aescbc, aesgcm]
        default: secretbox
      resources:
        description: Resources to encrypt.
        type: list
        elements: str
        default: [secrets]
  audit_policy:
    description:
      - API audit logging to C(<state_dir>/<name>/logs/audit-<member>.log).
      - Set when a local cluster is created; asking an existing cluster for other audit settings fails with the saved
        and requested values (delete and create the cluster again).
    type: dict
    suboptions:
      enabled:
        description: Turn audit logging on.
        type: bool
        default: false
      policy:
        description:
          - An C(audit.k8s.io/v1) Policy. Defaults to Metadata level for everything except health probes.
        type: dict
      max_size_mb:
        description: Rotate the audit log at this size.
        type: int
        default: 100
      max_backups:
        description: Rotated audit logs to keep.
        type: int
        default: 3
  etcd_quota_bytes:
    description:
      - etcd backend quota per member (64 MiB to 8 GiB). Defaults to 2 GiB.
    type: int
  etcd_unsafe_no_fsync:
    description:
      - Run etcd with C(--unsafe-no-fsync). Faster on slow disks; a machine crash can lose recent writes. For throwaway clusters only.
      - Off when left out.
    type: bool
  metrics_server:
    description:
      - Provider C(local) only. Run metrics-server as a process of the cluster and register the resource metrics API
        (C(metrics.k8s.io)), so C(kubectl top), HorizontalPodAutoscalers and M(adhar.platform.analyze) work.
      - kwok simulates Pods and their resource usage. A container's usage comes from the annotations
        C(kwok.x-k8s.io/usage-cpu) and C(kwok.x-k8s.io/usage-memory) of its Pod (on the pod template or on the Pod),
        1m CPU and 1Mi memory when absent.
      - Needs the metrics-server add-on of the toolchain (C(tools/toolchain ensure --only metrics-server), part of
        C(make toolchain)).
      - Off for a new cluster when left out; an existing cluster keeps its setting when left out. Turning it on or off
        on an existing cluster needs it running; kwok restarts to read its new configuration (its Nodes stay Ready).
    type: bool
  bin_dir:
    description:
      - Directory with the control-plane binaries, used as is. Defaults to C(ADHAR_BIN_DIR), else the toolchain cache
        (C(~/.cache/adhar/bin/<toolchain id>/)) filled by C(tools/toolchain ensure).
    type: path
  wait_timeout:
    description:
      - Seconds to wait for the control plane, nodes and leaders to become ready. Must be greater than 0.
      - For provider C(eks), the bound on all waiting of the task (cluster and node groups ACTIVE, updates done,
        deletion). Creating an EKS cluster takes 10 to 15 minutes, so give V(1800) or so there.
      - For provider C(gke), the bound on all waiting of the task for GKE's long-running operations (polled with backoff
        from 1 to 10 seconds). Creating a GKE cluster takes 5 to 10 minutes.
    default: 180
  restore_from:
    description:
      - Recover a local cluster from the etcd snapshot in a backup taken by M(adhar.platform.backup) with its
        C(etcd_snapshot) option. Provider C(local), O(state=present) or O(state=started) only.
      - When the cluster does not exist, it is created as usual, but its etcd members start from the snapshot
        (C(etcdutl snapshot restore) as a new etcd cluster, revisions bumped and compacted so every watcher re-lists);
        the source's encryption-at-rest configuration is installed so its Secrets stay readable. O(pod_cidr),
        O(service_cidr) and O(encryption_at_rest) are the source's (giving other values is an error); O(cluster_id),
        O(nodes.count) and O(control_plane.count) default to the source's.
      - When the cluster exists, nothing is restored unless O(restore_from.force=true) (a warning says so), so a play
        stays idempotent.
      - The snapshot is read into a 0600 file in a private scratch directory (C($TMPDIR/.adhar-scratch/), 0700), its
        checksum, decryption and C(etcdutl snapshot status) are checked before anything changes, and it is removed
        afterwards, also when the task is interrupted (SIGTERM); the next run removes what a kill -9 left. A missing,
        incomplete or corrupted backup fails the task with the cluster untouched.
      - See C(docs/etcd-recovery.md) for what a recovered cluster keeps from its source.
    type: dict
    suboptions:
      backup:
        description:
          - Name of the backup, or V(latest) for the newest complete backup of O(restore_from.source_cluster) that has
            an etcd snapshot.
        type: str
        default: latest
      source_cluster:
        description:
          - The cluster the backup was taken from, used to find the V(latest) backup. Defaults to O(name).
        type: str
      storage:
        description:
          - Where the backup is, as for the C(storage) option of M(adhar.platform.backup) - a URL (V(file:///path),
            V(s3://bucket/prefix)) or a dict with the same keys.
          - Its C(aws_secret_access_key) and C(aws_session_token) are hidden from results; better give S3 credentials
            through the environment or a profile.
        type: raw
        required: true
      encryption:
        description:
          - The key that opens the backup, as for the C(encryption) option of M(adhar.platform.backup) (C(key),
            C(key_file), C(key_env) or C(kms_key_id) with C(kms_region), C(kms_endpoint_url), C(kms_profile)).
            Required, since etcd snapshots are only ever stored encrypted.
        type: dict
      force:
        description:
          - Restore an existing cluster in place - stop its API servers, controllers and kwok, restore every etcd
            member into new data directories, start it again and wait until it is healthy. Objects created after the
            snapshot are gone afterwards.
          - The previous data directories are kept until the restored cluster is healthy and put back when anything
            fails. Not idempotent - every run restores again.
        type: bool
        default: false
  eks:
    description:
      - The EKS cluster for O(provider=eks). On an existing cluster, suboptions left out keep their current values.
    type: dict
    suboptions:
      role_arn:
        description:
          - ARN of the IAM role the EKS control plane uses. Required to create a cluster; cannot change later.
          - Must be an IAM role ARN; when IAM answers, the role must exist (GetRole), checked before any write.
        type: str
      subnets:
        description:
          - IDs of the subnets of the cluster (one VPC). Required to create a cluster; cannot change later.
          - Every subnet must exist (DescribeSubnets); with O(ha=true) they must span at least two Availability Zones.
        type: list
        elements: str
      endpoint_public_access:
        description:
          - Whether the API endpoint is reachable from the internet. EKS's default (V(true)) when left out on creation.
        type: bool
      endpoint_private_access:
        description:
          - Whether the API endpoint is reachable from inside the VPC. EKS's default (V(false)) when left out on creation.
        type: bool
      public_access_cidrs:
        description:
          - CIDR blocks allowed to reach the public endpoint. EKS's default (V(0.0.0.0/0)) when left out on creation.
        type: list
        elements: str
      logging:
        description:
          - Control-plane log types sent to CloudWatch Logs; the others are turned off.
          - Defaults on creation to V([audit]) when O(ha=true), else none.
        type: list
        elements: str
        choices: [api, audit, authenticator, controllerManager, scheduler]
      kms_key_arn:
        description:
          - ARN of the KMS key that encrypts Kubernetes Secrets (envelope encryption). The key must exist
            (DescribeKey, when KMS answers) and be enabled.
          - Set on creation only; a different key for an existing cluster is an error.
        type: str
      tags:
        description:
          - Tags of the cluster (TagResource / UntagResource). Node groups get them when they are created.
        type: dict
      purge_tags:
        description:
          - Remove tags of the cluster that O(eks.tags) does not list (never C(aws:) tags). Only when O(eks.tags) is given.
        type: bool
        default: true
      upgrade_nodes:
        description:
          - After the control plane, update every managed node group (listed in O(eks.node_groups) or not) whose
            Kubernetes version is behind the control plane's to that version with UpdateNodegroupVersion, one group at a
            time, each followed with DescribeUpdate within O(wait_timeout). This also happens when the control plane
            does not change and a group is behind it.
          - Groups on a custom AMI (C(amiType) C(CUSTOM)) and groups being deleted or that failed to create are named in
            a warning and left alone.
          - V(false) leaves node group versions alone (a warning names the groups behind the control plane).
        type: bool
        default: true
      node_groups:
        description:
          - Managed node groups. Groups not listed are left alone (never deleted by V(present)).
          - The adhar config's C(instance_types), C(autoScale), C(minNodes) and C(maxNodes) map onto O(eks.node_groups[].instance_types),
            O(eks.node_groups[].auto_scale), O(eks.node_groups[].min_nodes) and O(eks.node_groups[].max_nodes).
        type: list
        elements: dict
        suboptions:
          name:
            description: Node group name (1-63 letters, digits, C(-) and C(_)).
            type: str
            required: true
          instance_types:
            description: EC2 instance types. Defaults to V([t3.medium]) on creation; cannot change later.
            type: list
            elements: str
          auto_scale:
            description:
              - V(true) lets the node count move between O(eks.node_groups[].min_nodes) and
                O(eks.node_groups[].max_nodes) (an autoscaler changes the desired size; a task that leaves
                O(eks.node_groups[].desired_nodes) out keeps it). O(eks.node_groups[].max_nodes) is then required on creation.
              - V(false) fixes the group at O(eks.node_groups[].desired_nodes) nodes (minimum and maximum equal to it).
            type: bool
          min_nodes:
            description: Minimum size (EKS C(scalingConfig.minSize)). Defaults on creation to the desired size.
            type: int
          max_nodes:
            description:
              - Maximum size (EKS C(scalingConfig.maxSize)). Defaults on creation to the larger of the minimum and the
                desired size. Must not be less than O(eks.node_groups[].min_nodes).
            type: int
          desired_nodes:
            description:
              - Desired size (EKS C(scalingConfig.desiredSize)), within [min_nodes, max_nodes]. Defaults on creation
                to O(eks.node_groups[].min_nodes), else 2. Changes go through UpdateNodegroupConfig.
            type: int
          node_role_arn:
            description: ARN of the IAM role of the nodes. Required on creation (checked like O(eks.role_arn)); cannot change later.
            type: str
          subnets:
            description: Subnets of the nodes. Defaults to the cluster's subnets; cannot change later.
            type: list
            elements: str
  gke:
    description:
      - The GKE cluster for O(provider=gke). On an existing cluster, suboptions left out keep their current values.
    type: dict
    suboptions:
      location:
        description:
          - Region (V(europe-west1), a regional cluster over three zones) or zone (V(europe-west1-b), a zonal cluster).
            Required. Must be a region when O(ha=true) and a zone when O(ha=false).
        type: str
      network:
        description: VPC network (name or path). GKE's default (V(default)) when left out on creation; cannot change later.
        type: str
      subnetwork:
        description: Subnetwork (name or path) of the nodes. Set on creation only.
        type: str
      release_channel:
        description:
          - Release channel, one of V(rapid), V(regular), V(stable), V(extended) or V(unspecified) (no channel; case does
            not matter). V(regular) when left out on creation; a change goes through C(clusters.update).
        type: str
      private_endpoint:
        description:
          - Private nodes and a private control-plane endpoint (the kubeconfig then points at the private endpoint).
            Set on creation only.
        type: bool
      master_ipv4_cidr:
        description: IPv4 /28 of the control plane's private network; only with O(gke.private_endpoint=true).
        type: str
      workload_identity:
        description:
          - Workload Identity with the pool C(<project>.svc.id.goog); node pools created by the task then use the GKE
            metadata server. Can be turned on or off later (C(clusters.update)).
        type: bool
      labels:
        description:
          - Resource labels of the cluster, exactly (labels not listed are removed). Changes go through
            C(setResourceLabels) with the current label fingerprint.
        type: dict
      upgrade_nodes:
        description:
          - After the master, update every node pool (listed in O(gke.node_pools) or not) whose version is behind the
            master's to the master's version with C(nodePools.update) (C(nodeVersion) C(-), the pool's image type
            kept), one pool at a time, each operation followed to the end within O(wait_timeout).
          - Behind means an older minor version than the master's, or, when the task upgrades the master, older than
            O(kubernetes_version) at the precision it is written in (V(1.32.2) also compares the patch). Patch releases
            that GKE's auto-upgrade rolls out to the master do not make the module touch the pools.
          - V(false) leaves node pool versions alone (GKE's auto-upgrade on a release channel moves them).
        type: bool
        default: true
      node_pools:
        description:
          - Node pools. At least one is required to create a cluster. Pools not listed are left alone (never deleted by
            V(present)).
          - The adhar config's C(autoScale), C(minNodes) and C(maxNodes) map onto O(gke.node_pools[].auto_scale),
            O(gke.node_pools[].min_nodes) and O(gke.node_pools[].max_nodes). Counts are per zone, as in GKE.
        type: list
        elements: dict
        suboptions:
          name:
            description: Node pool name (1-40 lower-case letters, digits and C(-)).
            type: str
            required: true
          machine_type:
            description: Compute Engine machine type. V(e2-standard-4) when left out on creation; cannot change later.
            type: str
          auto_scale:
            description:
              - V(true) lets the cluster autoscaler move the pool between O(gke.node_pools[].min_nodes) and
                O(gke.node_pools[].max_nodes) (O(gke.node_pools[].max_nodes) is then required on creation).
              - Giving O(gke.node_pools[].min_nodes) or O(gke.node_pools[].max_nodes) implies V(true). Changes go
                through C(setAutoscaling).
            type: bool
          min_nodes:
            description: Autoscaling minimum per zone. Defaults on creation to the smaller of O(gke.node_pools[].node_count) and the maximum.
            type: int
          max_nodes:
            description: Autoscaling maximum per zone; not less than O(gke.node_pools[].min_nodes).
            type: int
          node_count:
            description:
              - Nodes per zone. On creation the initial count (default O(gke.node_pools[].min_nodes), else 1).
              - On an existing pool without autoscaling, the pool is resized with C(setSize) when any of its zones
                has another size (read from the pool's Compute Engine instance group managers). Ignored on an existing
                autoscaled pool (the autoscaler owns its size).
            type: int
  kubeconfig_out:
    description:
      - A path the cluster's kubeconfig (context C(adhar-<name>)) is written to, mode 0600; when the file has other
        entries, ours are merged in and the others are kept. V(absent) removes the context again. This is the output
        kubeconfig; O(kubeconfig) is always an input.
      - For provider C(local), the admin kubeconfig. The file is checked (a writable regular file of YAML, or a path
        that can be created) before anything is created or started. The cluster's own copy is always at
        C(<state_dir>/<name>/config/admin.kubeconfig).
      - For providers C(eks) and C(gke), a kubeconfig with an EKS token or a Google access token. The token is
        refreshed on every run (that alone is not reported as a change); an EKS token expires after 15 minutes, a
        Google access token usually after an hour.
      - Not used by provider C(existing).
    type: path
  kubeconfig:
    type: raw
    description:
      - The kubeconfig to connect with (a path or a dict), as for every module of the collection; never written.
      - For provider C(existing), the cluster is reached through it (default C(K8S_AUTH_KUBECONFIG), then
        C(~/.kube/config)).
      - Provider C(local) refuses it, before anything changes, unless it is the cluster's own
        C(<state_dir>/<name>/config/admin.kubeconfig) (what a play passes as the connection of a local cluster
        through C(module_defaults)). To write the admin kubeconfig to a file, use O(kubeconfig_out).
        Provider C(local) ignores C(K8S_AUTH_KUBECONFIG); only a value given to the task counts.
      - Not used by providers C(eks) and C(gke) (see O(kubeconfig_out)).
notes:
  - The local provider needs the toolchain binaries (C(make toolchain)) and, for more than one member, the Debian package haproxy.
  - Several local clusters can run side by side; ports are allocated below the ephemeral range without collisions.
  - Provider C(eks) needs boto3. Its tests run against moto in server mode, which has no UpdateClusterVersion and no
    DescribeUpdate; see C(docs/eks.md) for what is and is not covered.
  - Provider C(gke) needs google-auth and requests (no Google API client library). Its tests run against a local fake
    of the GKE REST API that validates every request against Google's discovery document for container v1; see
    C(docs/gke.md) for what is and is not covered.
seealso:
  - module: adhar.platform.cluster_info
"""

EXAMPLES = r"""
- name: Create a local HA cluster (3 members behind HAProxy) with 3 simulated nodes
  adhar.platform.cluster:
    name: demo
    ha: true
    nodes:
      count: 3
    kubeconfig_out: ~/.kube/adhar-demo.yaml
  register: demo

- name: Create a single-member cluster with encrypted Secrets and audit logging
  adhar.platform.cluster:
    name: hardened
    cluster_id: 2
    encryption_at_rest:
      enabled: true
    audit_policy:
      enabled: true

- name: Heal a degraded cluster (restart whatever died) and wait until ready
  adhar.platform.cluster:
    name: demo
    state: started

- name: Stop a cluster, keeping its state
  adhar.platform.cluster:
    name: demo
    state: stopped

- name: Remove a cluster and everything it wrote
  adhar.platform.cluster:
    name: demo
    state: absent

- name: Recover a lost cluster into a new one from the latest etcd snapshot of "demo"
  adhar.platform.cluster:
    name: demo-recovered
    restore_from:
      source_cluster: demo
      storage: file:///var/backups/adhar
      encryption:
        key_file: /etc/adhar/backup.key
  register: recovered

- name: Roll an existing cluster back to a given backup, in place
  adhar.platform.cluster:
    name: demo
    restore_from:
      backup: demo-20260101120000
      storage:
        type: s3
        bucket: backups
        prefix: clusters
      encryption:
        key_env: ADHAR_BACKUP_KEY
      force: true

- name: Create an EKS cluster across two Availability Zones with an autoscaled managed node group
  adhar.platform.cluster:
    name: prod-aws
    provider: eks
    region: eu-west-1
    ha: true
    kubernetes_version: "1.31"
    wait_timeout: 1800
    eks:
      role_arn: arn:aws:iam::123456789012:role/eks-control-plane
      subnets: [subnet-0a1b2c3d4e5f60718, subnet-0f1e2d3c4b5a69788]
      endpoint_private_access: true
      kms_key_arn: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
      tags:
        team: platform
      node_groups:
        - name: workers
          instance_types: [m6i.large]
          auto_scale: true
          min_nodes: 3
          max_nodes: 10
          node_role_arn: arn:aws:iam::123456789012:role/eks-nodes
    kubeconfig_out: ~/.kube/prod-aws.yaml
  register: prod

- name: Delete the EKS cluster and its node groups
  adhar.platform.cluster:
    name: prod-aws
    provider: eks
    region: eu-west-1
    state: absent
    wait_timeout: 1800

- name: Create a regional GKE cluster with Workload Identity and an autoscaled node pool
  adhar.platform.cluster:
    name: prod-gcp
    provider: gke
    project: my-project
    credentials_file: ~/.config/gcloud/prod-sa.json
    ha: true
    kubernetes_version: "1.31"
    wait_timeout: 1800
    gke:
      location: europe-west1
      release_channel: regular
      workload_identity: true
      labels:
        team: platform
      node_pools:
        - name: workers
          machine_type: e2-standard-8
          auto_scale: true
          min_nodes: 1
          max_nodes: 5
    kubeconfig_out: ~/.kube/prod-gcp.yaml

- name: Delete the GKE cluster
  adhar.platform.cluster:
    name: prod-gcp
    provider: gke
    project: my-project
    gke:
      location: europe-west1
    state: absent
    wait_timeout: 1800

- name: Register an existing cluster from a kubeconfig context
  adhar.platform.cluster:
    name: prod-eu
    provider: existing
    kubeconfig: ~/.kube/config
    context: prod-eu
"""

RETURN = r"""
cluster:
  description: The cluster after the task (null after O(state=absent)).
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: demo
    provider:
      description: Provider.
      type: str
      sample: local
    api_endpoint:
      description: API URL (the load balancer's when there are several members).
      type: str
      sample: https://127.0.0.1:24117
    kubeconfig:
      description:
        - Kubeconfig path to use. Provider C(local) gives O(kubeconfig_out) when it was given (or was given when the
          cluster was created), else the cluster's own admin kubeconfig; providers C(eks) and C(gke) give O(kubeconfig_out)
          when given, else null; provider C(existing) the path it connected with.
      type: str
    arn:
      description: ARN of the EKS cluster (provider eks).
      type: str
    region:
      description: AWS region (provider eks).
      type: str
    version:
      description: Kubernetes minor version of the EKS control plane (provider eks); the GKE master version (provider gke).
      type: str
      sample: "1.31"
    platform_version:
      description: EKS platform version (provider eks).
      type: str
    status:
      description: EKS cluster status, such as C(ACTIVE) (provider eks); GKE cluster status, such as C(RUNNING) (provider gke).
      type: str
    project:
      description: Google Cloud project (provider gke).
      type: str
    location:
      description: Region or zone of the GKE cluster (provider gke).
      type: str
    locations:
      description: Zones of the GKE cluster's nodes (provider gke).
      type: list
      elements: str
    self_link:
      description: URL of the GKE cluster resource (provider gke).
      type: str
    release_channel:
      description: GKE release channel, such as C(REGULAR) (provider gke).
      type: str
    workload_pool:
      description: Workload Identity pool, or null when it is off (provider gke).
      type: str
    private_endpoint:
      description: Whether the control plane has a private endpoint only (provider gke).
      type: bool
    network:
      description: VPC network of the GKE cluster (provider gke).
      type: str
    subnetwork:
      description: Subnetwork of the GKE cluster (provider gke).
      type: str
    labels:
      description: Resource labels of the GKE cluster (provider gke).
      type: dict
    node_pools:
      description: Node pools with status, version, machine type, autoscaling, initial count and zones (provider gke).
      type: list
      elements: dict
      sample:
        - {name: workers, status: RUNNING, version: "1.31.4-gke.1000", machine_type: e2-standard-8, auto_scale: true,
           min_nodes: 1, max_nodes: 5, initial_node_count: 1, locations: [europe-west1-b, europe-west1-c, europe-west1-d]}
    node_groups:
      description: Managed node groups with status, version, instance types, scaling and subnets (provider eks).
      type: list
      elements: dict
      sample:
        - {name: workers, status: ACTIVE, version: "1.31", instance_types: [m6i.large], min_nodes: 3, max_nodes: 10,
           desired_nodes: 3, subnets: [subnet-0a1b2c3d4e5f60718], arn: "arn:aws:eks:eu-west-1:123456789012:nodegroup/prod-aws/workers/..."}
    context:
      description: Kubeconfig context name.
      type: str
      sample: adhar-demo
    server_version:
      description: Version the API server reports (null when it does not answer).
      type: str
      sample: v1.36.3
    running:
      description: Whether every process of a local cluster is running.
      type: bool
    control_plane:
      description: Control-plane members with their health (local provider).
      type: list
      elements: dict
      sample:
        - name: member-0
          healthy: true
          etcd: {url: "https://127.0.0.1:21001", running: true}
          apiserver: {url: "https://127.0.0.1:21003", running: true, ready: true}
          controller_manager: {running: true}
          scheduler: {running: true}
    nodes:
      description: Desired node count, and for a running local cluster the Ready and total counts.
      type: dict
      sample: {count: 3, ready: 3, total: 3}
    state_dir:
      description: Directory with the cluster's state, logs and pidfiles (local provider).
      type: str
    processes:
      description: Whether each process of a local cluster runs (V(STARTING) or V(RUNNING) under supervisord).
      type: dict
      sample: {etcd-0: true, apiserver-0: true, controller-manager-0: true, scheduler-0: true, kwok: true}
    supervisor:
      description:
        - The cluster's supervisord (local provider) and the state and pid of each program it runs.
        - O(state=started) starts a supervisord that is not running.
      type: dict
      contains:
        running:
          description: Whether supervisord runs and answers on its socket.
          type: bool
        pid:
          description: Its pid (null when not running).
          type: int
        config:
          description: Its configuration file (also usable with C(supervisorctl -c <config> status)).
          type: str
        programs:
          description: Per process, its supervisord state (V(RUNNING), V(STARTING), V(BACKOFF), V(STOPPED),
            V(FATAL), ...) and pid; null when supervisord is not running.
          type: dict
      sample:
        running: true
        pid: 41877
        config: /home/me/.local/state/adhar/demo/config/supervisord.conf
        programs: {etcd-0: {state: RUNNING, pid: 41878}, haproxy: {state: RUNNING, pid: 41903}}
    bin_dir:
      description: Directory of the binaries the cluster runs, C(kubectl) and C(etcdctl) of the same release among them (local provider).
      type: str
kubeconfig:
  description:
    - For provider C(eks), a kubeconfig for the cluster as a dictionary (context C(adhar-<name>)) whose user
      authenticates with an EKS token (C(k8s-aws-v1.) + a presigned STS GetCallerIdentity URL, as C(aws eks get-token)
      makes it).
    - The token is a credential - anyone holding it acts as the AWS identity that ran the task until it expires. Do not
      print or store it unencrypted; use O(kubeconfig_out) for a 0600 file.
    - For provider C(gke), a kubeconfig for the cluster (context C(adhar-<name>)) whose user authenticates with a
      Google OAuth 2.0 access token from google-auth, with the cluster's endpoint and CA certificate.
  returned: providers eks and gke, O(state=present), when the cluster exists
  type: dict
token_expiration:
  description: When the token in RV(kubeconfig) stops working (UTC, ISO 8601); null for a given O(access_token).
  returned: providers eks and gke, O(state=present), when the cluster exists
  type: str
  sample: "2026-01-01T12:14:00Z"
actions:
  description: What the task did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["started 14 processes under supervisord", "created nodes kwok-node-0, kwok-node-1", "cluster ready"]
duration:
  description: Seconds the task took.
  returned: always
  type: float
timings:
  description: When a local cluster was created, seconds from the first process start until the control plane
    (etcd and every API server) was ready, and until nodes were Ready and the controller-manager and scheduler
    leaders elected.
  returned: when a cluster was created
  type: dict
  sample: {control_plane_ready: 2.4, nodes_and_leaders_ready: 8.9}
upgrade:
  description:
    - A rolling upgrade of a local cluster's control plane (O(kubernetes_version) changed), its resume or its
      rollback; in check mode what would be done (no steps).
  returned: when O(kubernetes_version) of a local cluster changed
  type: dict
  contains:
    kind:
      description: V(upgrade), V(resume) (an unfinished upgrade finished) or V(rollback).
      type: str
    from:
      description: The version the control plane ran.
      type: str
      sample: v1.35.4
    to:
      description: The version it runs after the task.
      type: str
      sample: v1.36.3
    order:
      description: The processes in the order they change (API servers, controller-managers, schedulers, leaders last).
      type: list
      elements: str
    steps:
      description:
        - One entry per process changed, in order, then one for the wait for the controller-manager and scheduler
          leaders, then one for the nodes; C(process), C(to), C(seconds), C(drained) (seconds its API server was
          drained in HAProxy before it restarted), for the wait C(leaders) (the member leading each) and, for the
          nodes, C(patched).
      type: list
      elements: dict
      sample: [{process: apiserver-0, to: v1.36.3, seconds: 9.8, drained: 0.1},
        {process: leaders, seconds: 12.4, leaders: {controller-manager: 1, scheduler: 1}}, {process: nodes, to: v1.36.3, seconds: 0.1, patched: 2}]
    seconds:
      description: Seconds the whole upgrade took.
      type: float
restored_from:
  description: The etcd snapshot a cluster was recovered from (O(restore_from)); in check mode, the one that would be used.
  returned: when O(restore_from) was applied
  type: dict
  contains:
    backup:
      description: Backup name.
      type: str
    source_cluster:
      description: The cluster the snapshot was taken from.
      type: str
    revision:
      description: etcd revision of the snapshot.
      type: int
    total_keys:
      description: Keys in the snapshot.
      type: int
    total_size:
      description: Snapshot size in bytes.
      type: int
    hash:
      description: Hash of the snapshot as C(etcdutl snapshot status) reports it.
      type: int
    seconds:
      description: Seconds from the start of the task until the recovered cluster was healthy (until the snapshot was
        verified in check mode).
      type: float
  sample: {backup: demo-20260101120000, source_cluster: demo, revision: 5312, total_keys: 10412, total_size: 25362432,
           hash: 1977245612, seconds: 14.2}
"""

import copy
import math

from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._common.args import wait_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.recover import RESTORE_FROM_ARG_SPEC, check_options
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.registry import get_provider
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.eks import EKS_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._cluster.providers.gke import GKE_ARG_SPEC


def argument_spec():
    return dict(
        name=dict(type="str", required=True),
        provider=dict(type="str", choices=["local", "existing", "eks", "gke", "kind"], default="local"),
        state=dict(type="str", choices=["present", "started", "stopped", "absent"], default="present"),
        ha=dict(type="bool"),
        control_plane=dict(type="dict", options=dict(count=dict(type="int"))),
        nodes=dict(type="dict", options=dict(count=dict(type="int"), volumes=dict(type="int"))),
        kubernetes_version=dict(type="str"),
        pod_cidr=dict(type="str"),
        service_cidr=dict(type="str"),
        cluster_id=dict(type="int"),
        state_dir=dict(type="path"),
        api_port=dict(type="int"),
        encryption_at_rest=dict(type="dict", options=dict(
            enabled=dict(type="bool", default=False),
            provider=dict(type="str", choices=["secretbox", "aescbc", "aesgcm"], default="secretbox"),
            resources=dict(type="list", elements="str", default=["secrets"]),
        )),
        audit_policy=dict(type="dict", options=dict(
            enabled=dict(type="bool", default=False),
            policy=dict(type="dict"),
            max_size_mb=dict(type="int", default=100),
            max_backups=dict(type="int", default=3),
        )),
        etcd_quota_bytes=dict(type="int"),
        etcd_unsafe_no_fsync=dict(type="bool"),
        metrics_server=dict(type="bool"),
        bin_dir=dict(type="path"),
        **wait_arg_spec(180),
        eks=copy.deepcopy(EKS_ARG_SPEC),
        gke=copy.deepcopy(GKE_ARG_SPEC),
        kubeconfig_out=dict(type="path"),
        # A connection input, as for every module, but without the K8S_AUTH_KUBECONFIG fallback in the spec: provider
        # local refuses an explicitly given kubeconfig, and an environment variable must not trigger that. Provider
        # existing still reads K8S_AUTH_KUBECONFIG, through K8sClient (resolve_auth).
        kubeconfig=dict(type="raw"),
        **RESTORE_FROM_ARG_SPEC,
        **copy.deepcopy(AWS_ARG_SPEC),
        **copy.deepcopy(GCP_ARG_SPEC)
    )


def check_numbers(params):
    """Numbers that no provider can use are refused before anything else happens."""
    timeout = params.get("wait_timeout")
    if timeout is None or not math.isfinite(timeout) or timeout <= 0:
        raise AdharError("wait_timeout: %s is not a positive number of seconds" % (timeout,), option="wait_timeout")


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True)

    def run(m):
        check_numbers(m.params)
        check_options(m)
        return get_provider(m.params["provider"], m).run()

    module.run(run)


if __name__ == "__main__":
    main()
