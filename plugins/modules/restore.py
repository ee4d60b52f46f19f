#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Restore Kubernetes objects from an adhar backup, verified first, in order and in parallel
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Restores the objects of a backup written by M(adhar.platform.backup) into the same or another cluster, whole or
    filtered (namespaces, resources, labels, one application), optionally into other namespaces.
  - Verification first. The manifest is checked and authenticated - with O(encryption) its MAC and Ed25519 signature,
    with O(verify_key) its signature. An encrypted backup restored with neither is refused, naming the key it needs;
    a key given for a backup that carries no signature (not encrypted, or its header removed) is refused too. Then
    every selected item is read in parallel, its size and SHA-256 checked and, if encrypted, decrypted. A corrupted
    or tampered item or manifest, a missing or wrong key or a backup without a manifest (incomplete) fails the task
    before a single request is made to the cluster.
  - An unencrypted, unsigned backup restored without a key is accepted on its checksums alone, with a warning
    (RV(restore.integrity=checksums-only)); O(require_signature) refuses it.
  - Order, in dependency tiers run strictly one after another; the resources of one tier need nothing from each
    other and their objects are restored together by one pool of O(workers), the resources interleaved.
    1. CustomResourceDefinitions alone, waited for until Established (O(crd_timeout)).
    2. Namespaces, StorageClasses, VolumeSnapshotClasses, PriorityClasses, ClusterRoles, IngressClasses, RuntimeClasses.
    3. PersistentVolumes, VolumeSnapshotContents, ServiceAccounts, Roles, LimitRanges, ResourceQuotas, Endpoints.
    4. VolumeSnapshots, ClusterRoleBindings, RoleBindings.
    5. PersistentVolumeClaims, Secrets, ConfigMaps, Services.
    6. Pods, ReplicaSets and every other resource (Deployments, Ingresses, custom resources, ...).
    7. Admission webhook configurations, admission policies, APIServices; 8. admission policy bindings.
    See docs/restore.md for why each tier comes where it does.
  - Existing objects are found with one C(LIST) per resource (not one C(GET) per object); new objects are created
    with one C(POST) each. An existing object equal to the backup (both sanitised) is V(unchanged), not a warning.
  - Objects are sanitised like Velero does (server-owned metadata, status, Service cluster IPs and auto-assigned node
    ports, Pod node names, Job controller-uid selectors, PVC and PV binding fields) and labelled
    C(backup.adhar.io/backup=<backup>) and C(backup.adhar.io/restore=<restore name>). Objects the cluster makes itself
    and objects a restored controller recreates are skipped with a reason (see docs/restore.md).
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.filters
  - adhar.platform.attributes
  - adhar.platform.storage
  - adhar.platform.storage.encryption
  - adhar.platform.storage.verification
  - adhar.platform.wait
  - adhar.platform.workers
attributes:
  check_mode:
    support: full
    details:
      - Every write is sent with C(dryRun=All), so the API server validates (admission included) without storing;
        objects in a Namespace, or of a CRD, that the same restore would create are reported as V(created) with a
        C(message) saying they were not validated.
  diff_mode:
    support: partial
    details:
      - Objects replaced with O(existing_resource_policy=update) or V(recreate) get a diff (Secret values hidden).
options:
  backup:
    description:
      - Name of the backup to restore, or V(latest) for the newest complete backup of O(cluster).
    type: str
    required: true
  cluster:
    description:
      - Source cluster name whose newest complete backup O(backup=latest) picks.
    type: str
  name:
    description:
      - Name of this restore (the value of the C(backup.adhar.io/restore) label).
      - Defaults to C(<backup>-restore-<UTC YYYYMMDDhhmmss>). Label values longer than 63 characters are shortened
        with a hash.
    type: str
  app:
    description:
      - Restore one application, the objects labelled with one of O(app_label_keys) equal to this name, plus what they
        need in their namespace; see docs/restore.md for exactly what is pulled in.
    type: str
  app_label_keys:
    description:
      - Label keys O(app) is looked up in.
      - With O(app), an empty list is an error.
    type: list
    elements: str
    default: [app.kubernetes.io/name, app.kubernetes.io/instance, app]
  namespace_mapping:
    description:
      - Restore objects of namespace C(old) into namespace C(new) (a dictionary C(old) to C(new)). Rewritten are object
        namespaces, the Namespace objects, subject namespaces of RoleBindings and ClusterRoleBindings, PV claim
        references and the service namespaces of webhook configurations, APIServices and CRD conversion webhooks.
    type: dict
  existing_resource_policy:
    description:
      - What to do with an object that exists and differs from the backup (an equal one is always V(unchanged)).
      - V(none) leaves it and reports it as V(skipped). V(update) makes it match the backup with a server-side apply
        (field manager C(adhar-restore), conflicts forced). V(recreate) deletes it, waits until it is gone and creates
        it again; Namespaces are updated instead (deleting one would delete its content).
    type: str
    choices: [none, update, recreate]
    default: none
  restore_status:
    description:
      - Keep the C(status) of restored objects, V(true) for all resources or a list of resources (as in
        O(include_resources)).
      - The API server ignores C(status) on create, so it is written right after the create through the C(status)
        subresource (one more request per created object that has a status).
    type: raw
    default: false
  preserve_node_ports:
    description:
      - Keep the node ports of Services. Without it only node ports a user set explicitly (seen in the
        last-applied annotation or a field manager's C(managedFields)) are kept.
    type: bool
    default: false
  order_insert:
    description:
      - Move resources in the restore order, each entry taking O(order_insert[].resource) out of its tier and putting it
        in a tier of its own right before or after the tier of another resource, so it is restored strictly before or
        after that resource. The rest of the order stays as it is; entries are applied in turn.
    type: list
    elements: dict
    suboptions:
      resource:
        description:
          - The resource to move, C(plural) or C(plural.group).
        type: str
        required: true
      before:
        description:
          - Place it right before this resource.
        type: str
      after:
        description:
          - Place it right after this resource.
        type: str
  workers:
    description:
      - Objects restored (and items read) at the same time within a tier, all the tier's resources sharing them.
      - Each worker sends its requests on a keep-alive connection of its own. On two cores 16 and 32 created as fast.
      - From 1 to 256; another value fails the task before anything is read.
    default: 16
  crd_timeout:
    description:
      - Seconds to wait for restored CRDs to become Established before their custom resources are restored.
      - Greater than 0.
    type: float
    default: 60
  wait:
    description:
      - After the restore, wait until the created Deployments, StatefulSets, DaemonSets, Jobs and Pods are ready.
    default: false
  wait_timeout:
    description:
      - Seconds for all of O(wait) together.
      - Greater than 0; another value fails the task before anything is read.
    default: 300
  report_items:
    description:
      - Which per-object results RV(items) lists.
      - V(summary) lists none, so the result stays a few kilobytes however many objects are restored; the numbers per
        resource and outcome are in RV(restore.resource_counts), failures in RV(restore.failures) (at most 20).
      - V(changed) lists created, updated, recreated and failed objects, V(failed) the failed ones, V(all) every object;
        with these RV(restore.failures) lists every failure.
    type: str
    choices: [summary, changed, failed, all]
    default: summary
  continue_on_error:
    description:
      - Go on with the later tiers after an object failed, and succeed with a warning.
      - Without it a failed object ends the restore after its tier (later tiers depend on it); the task fails with
        C(N of M items failed).
    type: bool
    default: false
  volume_data:
    description:
      - V(auto) puts back the files of the volumes the backup holds (its C(volumes/) section, see
        M(adhar.platform.backup) O(adhar.platform.backup#module:volume_data)) into the target cluster's local volumes,
        and restores PVCs whose backup recorded a ready CSI VolumeSnapshot with that snapshot as C(dataSource).
      - Before any object is restored every selected volume item is checked (size, SHA-256); a corrupted backup fails
        the task with nothing written. The PV objects of those volumes are not restored (they name the source
        cluster's directories); each restored PVC gets a PV of the target, pre-bound to it, in the directory named by
        the target's StorageClass C(adhar-local) (a local cluster made with
        O(adhar.platform.cluster#module:nodes.volumes)), or keeps the local PV it is already bound to.
      - The files are extracted beside the volume's directory and swapped in only once the whole stream was
        authenticated and matched the backup's index; modes, mtimes, symbolic links (inside the volume) and, as root,
        owners are kept. A volume whose files already match is left alone; check mode compares and writes nothing.
      - V(never) restores the objects only.
    type: str
    choices: [auto, never]
    default: auto
notes:
  - Not restored, ever - nodes, events, CSINodes, VolumeAttachments, node leases, mirror pods, Velero's own objects.
  - Skipped because the cluster makes them - C(kube-root-ca.crt) ConfigMaps, unmodified C(default) ServiceAccounts, the
    C(kubernetes) Service and its Endpoints/EndpointSlices, service-account token Secrets, bootstrap RBAC and other
    objects the API server maintains; and objects whose controller owner is restored too (Pods of ReplicaSets,
    ReplicaSets of Deployments, EndpointSlices of Services, Jobs of CronJobs), and the Endpoints of restored Services
    with a selector.
seealso:
  - module: adhar.platform.backup
  - module: adhar.platform.backup_info
requirements:
  - kubernetes >= 28.1.0 (Python)
  - cryptography (encrypted backups)
  - boto3 (S3 storage)
"""

EXAMPLES = r"""
- name: Restore the newest backup of cluster prod into a new cluster
  adhar.platform.restore:
    kubeconfig: ~/.kube/dr.kubeconfig
    backup: latest
    cluster: prod
    storage: {url: s3://adhar-backups/prod, region: eu-west-1}
    encryption: {key_env: ADHAR_BACKUP_KEY}

- name: Restore one application into another namespace, overwriting what differs
  adhar.platform.restore:
    backup: prod-20260601020000
    storage: {url: file:///var/backups/adhar}
    encryption: {key_file: /etc/adhar/backup.key}
    app: my-app
    include_namespaces: [production]
    namespace_mapping: {production: production-restored}
    existing_resource_policy: update
    wait: true

- name: Restore the ConfigMaps without the encryption key, checked by the verify key the backup returned
  adhar.platform.restore:
    backup: prod-20260601020000
    storage: {url: file:///var/backups/adhar}
    verify_key: "{{ adhar_backup_verify_key }}"
    require_signature: true
    include_resources: [configmaps]

- name: Restore Ingresses strictly after Deployments (a tier of their own, inserted into the order)
  adhar.platform.restore:
    backup: prod-20260601020000
    storage: {url: file:///var/backups/adhar}
    encryption: {key_file: /etc/adhar/backup.key}
    order_insert:
      - {resource: ingresses.networking.k8s.io, after: deployments.apps}
    report_items: failed
"""

RETURN = r"""
restore:
  description: What the restore did.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the restore.
      type: str
      sample: prod-20260601020000-restore-20260601101500
    backup:
      description: The backup restored.
      type: str
      sample: prod-20260601020000
    source_cluster:
      description: The cluster the backup was taken of.
      type: str
    counts:
      description: Objects per outcome.
      type: dict
      sample: {created: 120, updated: 0, unchanged: 3, skipped: 14, recreated: 0, failed: 0}
    seconds:
      description: Seconds for the whole task (verification included).
      type: float
    objects_per_second:
      description: Objects handled (not counting those skipped before any request) per second of the apply phase.
      type: float
    stages:
      description:
        - One entry per tier in order, with C(name) (the tier), C(resources) (restored in it), C(count), C(counts)
          (objects per outcome), C(resource_counts) (objects per outcome of each resource), C(list_seconds) (finding
          what exists) and C(seconds).
      type: list
      elements: dict
    resource_counts:
      description: Objects per outcome of each resource, every object counted (those skipped before any request too).
      type: dict
      sample: {configmaps: {created: 17253, unchanged: 8627, skipped: 10}, pods: {skipped: 20000}}
    failures:
      description:
        - Failed objects with C(resource), C(namespace), C(name), C(action) and C(message); with O(report_items=summary)
          the first 20, the others counted in RV(restore.failures_not_listed); otherwise every one.
      type: list
      elements: dict
    failures_not_listed:
      description: Failed objects beyond those in RV(restore.failures) (their number is in RV(restore.counts) too).
      type: int
      sample: 0
    skipped:
      description:
        - Skipped objects grouped by reason, C(reason), C(count) and up to five C(examples).
        - Reasons name no object (C(recreated by its controller (owner kind Deployment))), so a group holds every object
          skipped for it.
      type: list
      elements: dict
      sample: [{reason: recreated by its controller (owner kind ReplicaSet), count: 20000, examples: [pods shop/web-7d9c-x2k4]}]
    timings:
      description:
        - Seconds per phase (C(read), C(verify_and_plan), C(apply), C(wait)), C(apply_cpu) (CPU seconds of the module
          during the apply phase) and item numbers.
      type: dict
    policy:
      description: The O(existing_resource_policy) used.
      type: str
    check_mode:
      description: Whether this was a dry run.
      type: bool
    integrity:
      description:
        - How the backup was authenticated. V(signed) - its Ed25519 signature checked with O(verify_key) or the key;
          V(authenticated) - its MAC checked with the key (AWS KMS backups and format 1.0 carry no signature);
          V(checksums-only) - no key and an unencrypted, unsigned backup, so only accidents are detected.
      type: str
      sample: signed
    volumes:
      description:
        - The volume data restored (null when the backup holds none or with O(volume_data=never)). C(volumes) per volume
          (namespace, pvc, source, action V(restored)/V(unchanged)/V(would restore)/V(skipped), path, pv, files, bytes,
          seconds, mb_per_second), C(counts) per action, C(files), C(bytes), C(changed).
      type: dict
      sample: {counts: {restored: 1}, files: 3, bytes: 1048576, changed: true, volumes: [{namespace: db, pvc: data,
               action: restored, files: 3, bytes: 1048576}]}
    pvcs_from_snapshots:
      description: PVCs restored with a CSI VolumeSnapshot of the backup as their C(dataSource).
      type: int
      sample: 0
    wait:
      description:
        - With O(wait), how many workloads were waited for, how many became ready, and the others (C(not_ready), at most
          20 with O(report_items=summary); C(waited) minus C(ready) is their number).
      type: dict
      returned: when O(wait=true)
items:
  description:
    - Per-object results (C(resource), C(namespace), C(name), C(action), C(message)), as O(report_items) selects; empty
      with the default O(report_items=summary).
    - C(action) is one of V(created), V(updated), V(unchanged), V(skipped), V(recreated), V(failed).
  returned: always
  type: list
  elements: dict
  sample: [{resource: configmaps, namespace: shop, name: settings, action: created}]
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import wait_arg_spec, workers_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._dr.crypto_envelope import ENCRYPTION_ARG_SPEC, VERIFY_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import FILTER_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._dr.restore import RESTORE_BOUNDS, run_restore
from ansible_collections.adhar.platform.plugins.module_utils._storage.api import STORAGE_ARG_SPEC


def argument_spec():
    spec = dict(
        backup=dict(type="str", required=True),
        cluster=dict(type="str"),
        name=dict(type="str"),
        app=dict(type="str"),
        app_label_keys=dict(type="list", elements="str", no_log=False, default=["app.kubernetes.io/name", "app.kubernetes.io/instance", "app"]),
        namespace_mapping=dict(type="dict"),
        existing_resource_policy=dict(type="str", choices=["none", "update", "recreate"], default="none"),
        restore_status=dict(type="raw", default=False),
        preserve_node_ports=dict(type="bool", default=False),
        order_insert=dict(type="list", elements="dict", options=dict(
            resource=dict(type="str", required=True),
            before=dict(type="str"),
            after=dict(type="str"),
        ), mutually_exclusive=[["before", "after"]], required_one_of=[["before", "after"]]),
        **workers_arg_spec(16),
        crd_timeout=dict(type="float", default=60),
        **wait_arg_spec(300, wait=False),
        report_items=dict(type="str", choices=["summary", "changed", "failed", "all"], default="summary"),
        continue_on_error=dict(type="bool", default=False),
        volume_data=dict(type="str", choices=["auto", "never"], default="auto"),
    )
    spec.update(FILTER_ARG_SPEC)
    spec.update(STORAGE_ARG_SPEC)
    spec.update(ENCRYPTION_ARG_SPEC)
    spec.update(VERIFY_ARG_SPEC)
    return spec


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True, bounds=RESTORE_BOUNDS)
    module.run(run_restore)


if __name__ == "__main__":
    main()
