#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: apps
short_description: Move applications from one Kubernetes cluster to another, verified, and show their state
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - O(action=migrate) moves an application (O(app), the value of its app label) or whole namespaces (O(namespaces))
    from the O(source) cluster to the O(target) cluster, the adhar Advanced Topics guide's
    C(adhar apps migrate --from <cluster> --to <cluster> --verify).
  - Streamed, with no archive in between. The objects are read from the source by the backup engine of
    M(adhar.platform.backup) (discovery, the same filters, paged parallel lists) and kept in memory; the restore engine
    of M(adhar.platform.restore) selects what an application needs, skips what the target cluster makes itself or a
    moved controller recreates, sanitises, maps namespaces (O(namespace_mapping)) and applies them to the target in
    dependency tiers. Nothing is written to disk.
  - Idempotent. An object already on the target and equal to the source (both sanitised) is V(unchanged); a second
    migration of the same objects reports C(changed=false).
  - O(gradual=true) moves one application at a time (each value of the app label, then the objects of no
    application) and reports each; without O(continue_on_error) the first application that fails ends the migration.
  - O(verify=true) waits (O(wait_timeout)) for the workloads on the target to be ready, then reads every moved object
    back from the target and compares it with the source object the way restore decides V(unchanged); any difference,
    missing object or workload not ready fails the task (a warning with O(continue_on_error)).
  - O(action=status) shows an application's objects (by app label, O(app)) or the objects of O(namespaces) on one
    cluster, with the readiness of each, as a table.
  - The connection. The module takes every Kubernetes connection option at the top level (it is a member of the
    C(adhar.platform.k8s) action group). Those are the defaults of both sides; each member set in O(source) or
    O(target) replaces the top-level option for that side. O(action=status) looks at the top-level connection with
    O(target)'s members over it (so the arguments of a migration, with O(action=status), show the target).
  - Checked before any request. What to move (O(namespaces) or O(app)); O(source) and O(target) must differ (as
    options, and as the API server they resolve to from their kubeconfigs); O(namespace_mapping) must be a dictionary
    of namespace names; the filters and the label selector; the numbers against their bounds.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.filters
  - adhar.platform.attributes
  - adhar.platform.wait.timeout
  - adhar.platform.workers
attributes:
  check_mode:
    support: full
    details:
      - The source is read; every write to the target is sent with C(dryRun=All), so the target's API server validates
        (admission included) without storing. Objects in a Namespace the migration would create are reported as
        V(created) with a message saying they were not validated. O(verify) is not done (nothing was written).
  diff_mode:
    support: partial
    details:
      - Objects replaced with O(existing_resource_policy=update) or V(recreate) get a diff (Secret values hidden).
options:
  action:
    description:
      - V(migrate) moves objects from O(source) to O(target); V(status) shows an application on one cluster.
    type: str
    choices: [migrate, status]
    required: true
  source:
    description:
      - The cluster the objects are read from (never written to), as Kubernetes connection options over the top-level
        ones. Each member set replaces the top-level option of the same name for the source only; the members have no
        defaults and read no environment variable.
    type: dict
    suboptions: &connection
      kubeconfig: {type: raw, description: The top-level O(kubeconfig) for this side.}
      context: {type: str, description: The top-level O(context) for this side.}
      host: {type: str, description: The top-level O(host) for this side.}
      api_key: {type: str, description: The top-level O(api_key) for this side.}
      validate_certs: {type: bool, description: The top-level O(validate_certs) for this side., aliases: [verify_ssl]}
      ca_cert: {type: path, description: The top-level O(ca_cert) for this side., aliases: [ssl_ca_cert]}
      client_cert: {type: path, description: The top-level O(client_cert) for this side., aliases: [cert_file]}
      client_key: {type: path, description: The top-level O(client_key) for this side., aliases: [key_file]}
      request_timeout: {type: float, description: The top-level O(request_timeout) for this side.}
      api_retry_deadline: {type: float, description: The top-level O(api_retry_deadline) for this side.}
  target:
    description:
      - The cluster the objects are applied to, as Kubernetes connection options over the top-level ones. With
        O(action=status), the cluster shown.
    type: dict
    suboptions: *connection
  include_namespaces:
    description:
      - The namespaces moved (or shown), names or globs (V(*), V(?), V([abc])); V(*) is every namespace.
      - With O(app), the namespaces the application is looked for in (default all); giving them reads less of the source.
      - One of O(namespaces) or O(app) is required.
      - Every entry must be a string. An entry that matches no namespace of the source is a warning naming it, an error
        with O(strict=true).
    type: list
    elements: raw
    aliases: [namespaces]
  app:
    description:
      - One application, the objects labelled with one of O(app_label_keys) equal to this value, plus what they need in
        their namespace (the ConfigMaps, Secrets, ServiceAccounts and PersistentVolumeClaims their pods refer to, the
        RoleBindings of those accounts and their Roles), exactly as M(adhar.platform.restore) selects an application.
    type: str
  app_label_keys:
    description:
      - Label keys O(app) is looked up in; with O(gradual), the first of them an object carries names its application.
      - With O(app), an empty list is an error.
    type: list
    elements: str
    default: [app.kubernetes.io/name, app.kubernetes.io/instance, app]
  namespace_mapping:
    description:
      - Move the objects of source namespace C(old) into target namespace C(new) (a dictionary C(old) to C(new)); the
        same rewrites as M(adhar.platform.restore) (object namespaces, the Namespace objects, binding subjects, PV claim
        references, webhook and APIService service references).
      - Anything but a dictionary of namespace names (DNS labels), or two namespaces mapped to one, is an error before
        any request.
    type: raw
  existing_resource_policy:
    description:
      - What to do with an object that exists on the target and differs from the source (an equal one is always
        V(unchanged)). V(none) leaves it and reports it V(skipped); V(update) makes it match with a server-side apply
        (field manager C(adhar-restore), conflicts forced); V(recreate) deletes and creates it again (Namespaces are
        updated instead).
    type: str
    choices: [none, update, recreate]
    default: none
  gradual:
    description:
      - Move one application at a time, in the order of their names, then the objects of no application, and report
        each in RV(migration.apps).
    type: bool
    default: false
  verify:
    description:
      - After the objects are applied, wait for the workloads on the target to be ready (O(wait_timeout)), then compare
        every moved object on the target with the source object. The result is RV(migration.verification).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds O(verify) waits for the workloads of one run (all of them, or one application with O(gradual)).
    default: 300
  crd_timeout:
    description:
      - Seconds to wait for moved CustomResourceDefinitions to be Established before their custom resources are applied.
    type: float
    default: 60
  workers:
    description:
      - Parallel requests, when reading the source and when applying to the target (1-256).
    default: 16
  page_size:
    description:
      - Objects per C(LIST) page when reading (1-10000).
    type: int
    default: 500
  continue_on_error:
    description:
      - Go on after an object fails, an application fails or the verification finds a problem; the task then succeeds
        with a warning. Without it the task fails (and O(gradual) stops at the failing application).
    type: bool
    default: false
  report_items:
    description:
      - Which objects are listed in RV(items), V(summary) none, V(changed) created, updated, recreated and failed ones,
        V(failed), or V(all).
    type: str
    choices: [summary, changed, failed, all]
    default: summary
notes:
  - Objects are held in memory between the read and the apply; a migration of a whole large cluster needs memory in
    proportion. Give O(namespaces), O(app) or the resource filters to move less at a time, or use
    M(adhar.platform.backup) and M(adhar.platform.restore) through a backup.
  - Volume data is not copied. PersistentVolumeClaims are created on the target and bound there by its provisioner;
    move the data with a volume snapshot or the application's own replication.
  - Secrets never appear in the result or the log; only names do.
seealso:
  - module: adhar.platform.backup
  - module: adhar.platform.restore
"""

EXAMPLES = r"""
- name: Move the shop application from the blue cluster to the green one, verified
  adhar.platform.apps:
    action: migrate
    kubeconfig: ~/.kube/config
    source: {context: prod-blue}
    target: {context: prod-green}
    app: shop
    verify: true

- name: Move two namespaces one application at a time, into renamed namespaces
  adhar.platform.apps:
    action: migrate
    source: {kubeconfig: ~/.kube/prod-aws.kubeconfig}
    target: {kubeconfig: ~/.kube/prod-gcp.kubeconfig}
    namespaces: [shop, "team-*"]
    namespace_mapping: {shop: shop-gcp}
    gradual: true
    verify: true
    wait_timeout: 600

- name: Show the shop application on the green cluster
  adhar.platform.apps:
    action: status
    kubeconfig: ~/.kube/config
    context: prod-green
    app: shop
  register: shop

- name: Fail unless every object of it is ready
  ansible.builtin.assert:
    that: shop.status.ready
"""

RETURN = r"""
migration:
  description: The migration (O(action=migrate)).
  returned: when O(action=migrate)
  type: dict
  contains:
    name:
      description: Name of this migration, the value of the C(backup.adhar.io/restore) label of the objects it creates.
      type: str
      sample: migrate-20260601020000
    source:
      description: API server URL of the source.
      type: str
    target:
      description: API server URL of the target.
      type: str
    counts:
      description: Objects per outcome, C(created), C(updated), C(unchanged), C(skipped), C(recreated), C(failed).
      type: dict
      sample: {created: 7, updated: 0, unchanged: 0, skipped: 4, recreated: 0, failed: 0}
    apps:
      description:
        - One row per run, C(app) (null for the objects of no application, or a migration of namespaces without
          O(gradual)), C(counts), C(seconds), C(namespaces) (on the target) and, with O(verify), C(verified).
        - With O(gradual), the applications not attempted after a failure have C(counts=null) and a C(message).
      type: list
      elements: dict
      sample: [{app: shop, counts: {created: 7, unchanged: 1}, seconds: 0.4, namespaces: [shop], verified: true}]
    verification:
      description:
        - With O(verify), C(objects) compared and how many are C(equal), C(differs), C(missing) on the target,
          C(workloads) waited for and C(ready), C(not_ready) (why), C(ok), and C(table) - one row per object,
          C(resource), C(kind), C(namespace), C(name), C(source_namespace), C(target) (V(equal), V(differs),
          V(missing)) and C(ready) (workloads; null for other objects), problems first, at most 500 rows
          (C(rows_not_listed) counts the others).
        - In check mode, C(skipped) says why nothing was verified.
      type: dict
      returned: when O(verify=true)
    skipped:
      description: Skipped objects grouped by reason, C(reason), C(count) and up to five C(examples).
      type: list
      elements: dict
    failures:
      description: Failed objects (at most 20; C(failures_not_listed) counts the others).
      type: list
      elements: dict
    failures_not_listed:
      description: Failed objects beyond those listed.
      type: int
    stages:
      description: The dependency tiers of each run (C(name), C(resources), C(count), C(counts), C(seconds), C(app)).
      type: list
      elements: dict
    objects_per_second:
      description: Objects handled per second of the apply phase.
      type: float
    seconds:
      description: Seconds the whole migration took.
      type: float
    timings:
      description: Seconds of C(read) (the source), C(plan), C(apply) and C(verify).
      type: dict
    gradual:
      description: Whether the applications were moved one at a time.
      type: bool
    policy:
      description: The O(existing_resource_policy) used.
      type: str
    check_mode:
      description: Whether this was a dry run.
      type: bool
status:
  description: An application's objects on one cluster (O(action=status)).
  returned: when O(action=status)
  type: dict
  contains:
    cluster:
      description: API server URL of the cluster shown.
      type: str
    app:
      description: The O(app) shown, or null.
      type: str
    namespaces:
      description: Namespaces of the objects found.
      type: list
      elements: str
    objects:
      description: Number of objects found.
      type: int
    ready:
      description: Whether objects were found and every one is ready.
      type: bool
    not_ready:
      description: Number of objects not ready.
      type: int
    kinds:
      description: Per kind, C(total) and C(ready).
      type: dict
      sample: {Deployment: {total: 1, ready: 1}, ConfigMap: {total: 1, ready: 1}}
    table:
      description:
        - One row per object, C(kind), C(resource), C(namespace), C(name), C(ready), C(reason), C(app); objects not
          ready first, at most 500 rows (C(rows_not_listed) counts the others).
        - Readiness - Deployments, StatefulSets, DaemonSets, ReplicaSets, Pods, Jobs and CRDs by their status (as
          M(adhar.platform.apply) waits for them), PersistentVolumeClaims when Bound, LoadBalancer Services when they
          have an address, Namespaces when Active; other objects are ready when they exist.
      type: list
      elements: dict
      sample: [{kind: Deployment, resource: deployments.apps, namespace: shop, name: web, ready: true, reason: 1 replicas available, app: shop}]
    rows_not_listed:
      description: Rows beyond those listed.
      type: int
    seconds:
      description: Seconds the reading took.
      type: float
items:
  description:
    - Per-object results of a migration (C(resource), C(namespace), C(name), C(action), C(message)), as
      O(report_items) selects; empty with the default O(report_items=summary) and with O(action=status).
  returned: when O(action=migrate)
  type: list
  elements: dict
"""

from ansible_collections.adhar.platform.plugins.module_utils._dr.apps_migrate import MIGRATE_BOUNDS, connection_suboptions, run_apps
from ansible_collections.adhar.platform.plugins.module_utils._common.args import wait_arg_spec, workers_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._dr.backup import FILTER_ARG_SPEC


def argument_spec():
    spec = dict(
        action=dict(type="str", choices=["migrate", "status"], required=True),
        source=dict(type="dict", options=connection_suboptions()),
        target=dict(type="dict", options=connection_suboptions()),
        app=dict(type="str"),
        app_label_keys=dict(type="list", elements="str", no_log=False,
                            default=["app.kubernetes.io/name", "app.kubernetes.io/instance", "app"]),
        namespace_mapping=dict(type="raw"),
        existing_resource_policy=dict(type="str", choices=["none", "update", "recreate"], default="none"),
        gradual=dict(type="bool", default=False),
        verify=dict(type="bool", default=False),
        **wait_arg_spec(300),
        crd_timeout=dict(type="float", default=60.0),
        **workers_arg_spec(16),
        page_size=dict(type="int", default=500),
        continue_on_error=dict(type="bool", default=False),
        report_items=dict(type="str", choices=["summary", "changed", "failed", "all"], default="summary"),
    )
    spec.update({k: dict(v) for k, v in FILTER_ARG_SPEC.items()})
    spec["include_namespaces"]["aliases"] = ["namespaces"]
    return spec


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True, bounds=MIGRATE_BOUNDS)
    module.run(run_apps)


if __name__ == "__main__":
    main()
