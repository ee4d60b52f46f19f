#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: helm_release
short_description: Install, upgrade and remove Helm releases with the toolchain's helm
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Installs or upgrades a Helm release (C(helm upgrade --install)) or uninstalls it, with the C(helm) binary of the
    collection's toolchain (O(bin_dir), else C(ADHAR_BIN_DIR), else the toolchain cache filled by C(tools/toolchain ensure)).
  - The connection comes from the shared Kubernetes options. O(kubeconfig) as a path and O(context) become
    C(--kubeconfig) and C(--kube-context); a kubeconfig given as a dict is written to a 0600 file in a private temporary
    directory that is removed afterwards; O(host), O(api_key), O(ca_cert) and O(validate_certs) reach helm through its
    C(HELM_KUBE*) environment variables (never on the command line).
  - The release's values are computed here, from O(values_files), O(values), O(set_values) and O(secret_values), and
    handed to helm as one values file (mode 0600, removed afterwards); the release is upgraded with C(--reset-values), so
    what is deployed is exactly what the task gives.
  - Idempotent. The newest revision (C(helm history)) and its user-supplied values (C(helm get values)) are compared with
    the wanted chart, chart version and values. When they are the same, the release's computed values (C(helm get values
    --all), the chart's defaults under the user values) are compared with those helm computes for the wanted chart and
    values (C(helm install --dry-run=client --debug), nothing stored), so defaults that drifted under the same chart name
    and version are reported by key. A release that is C(deployed) with the same chart, version, values and computed
    values is left alone (C(changed=false)). A local chart's content digest is recorded in the release description, so
    an edited local chart is upgraded even when its version did not change.
  - With O(wait), the release's Deployments, StatefulSets and DaemonSets (from its manifest) are waited for with watches
    through the collection's Kubernetes client, also when nothing changed.
  - A release left C(pending-install), C(pending-upgrade) or C(pending-rollback) (an interrupted or concurrent helm run)
    is an error that says so, unless O(atomic) is set, which rolls it back to its last deployed revision (or uninstalls it
    when it never was deployed) first. A C(failed) release is upgraded.
  - Messages of the module never contain values, only keys. Errors quoted from helm or the API server may quote a value
    they reject; O(secret_values) are masked everywhere in the result.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.attributes
  - adhar.platform.wait
attributes:
  check_mode:
    support: full
    details:
      - When the release would change, C(helm upgrade --install --dry-run=server) renders the chart against the cluster
        (lookups included) without storing anything; C(release) is what helm reports for that dry run.
  diff_mode:
    support: full
    details:
      - The chart and the user-supplied values before and after, as YAML. Secret values are masked.
options:
  name:
    description:
      - Release name.
    type: str
    required: true
    aliases: [release_name]
  namespace:
    description:
      - Namespace of the release (and of the chart's namespaced objects that do not name one).
    type: str
    default: default
    aliases: [release_namespace]
  create_namespace:
    description:
      - Create O(namespace) when it does not exist (C(--create-namespace)).
    type: bool
    default: false
  state:
    description:
      - V(present) installs or upgrades the release; V(absent) uninstalls it.
    type: str
    choices: [present, absent]
    default: present
  chart:
    description:
      - The chart, required with O(state=present). One of
      - a local chart directory or packaged C(.tgz) (an absolute path, or one starting with C(./), C(../) or C(~));
      - C(repo/name), a chart of a repository helm already knows (C(helm repo add));
      - C(oci://registry/path/name);
      - a chart name together with O(chart_repo_url);
      - with O(toolchain_chart), the name of a chart the collection's toolchain pins.
    type: str
    aliases: [chart_ref]
  toolchain_chart:
    description:
      - O(chart) names an upstream chart pinned by the collection's toolchain (C(cilium), C(ingress-nginx), C(minio),
        C(postgresql), C(postgresql-ha), C(redis)), fetched from the Go module proxy into the cache
        (C(~/.cache/adhar/charts/)) by C(make toolchain) or C(tools/toolchain.py charts). Its cached directory is
        installed like a local chart, offline. An error names the command to run when it is not fetched yet.
      - Not with O(chart_repo_url).
    type: bool
    default: false
  chart_repo_url:
    description:
      - Repository of O(chart) (C(helm --repo)); an C(oci://) URL is joined with the chart name.
    type: str
  chart_version:
    description:
      - Chart version to install (C(--version)). Pin it for remote charts; without it the repository's latest is installed
        and a new chart version is only picked up when values change.
      - For a local chart it must match its C(Chart.yaml) when given.
    type: str
  values:
    description:
      - Values as a nested dictionary, merged over O(values_files).
    type: dict
    default: {}
  set_values:
    description:
      - Values by dotted key, like the value lists of the adhar config and C(helm --set) (C(a.b.c), C(a\.b) for a dot inside
        a key, C(list[0].name) for list items), set over O(values) in order.
      - Strings are typed like C(helm --set) does (C(true)/C(false), whole numbers, C(null)); other values are kept as given.
    type: dict
    default: {}
  secret_values:
    description:
      - Like O(set_values), applied last, for secrets (passwords, tokens). They are C(no_log) - masked in the result, in the
        diff and in errors.
    type: dict
    default: {}
  values_files:
    description:
      - Values files (YAML) on the host the module runs on, deep-merged in order; the base of O(values).
    type: list
    elements: path
    default: []
  wait:
    description:
      - Wait until the release's Deployments, StatefulSets and DaemonSets are ready (with V(absent), gone).
    default: true
  wait_timeout:
    description:
      - Seconds to wait for readiness; also the C(--timeout) of helm (hooks).
      - Greater than 0.
    default: 300
  atomic:
    description:
      - Roll back a failed install or upgrade (a helm error or a release not ready in time) to the last deployed revision,
        or uninstall a release that was never deployed; the task still fails, saying what was undone.
      - Also recovers a release left pending by an interrupted helm run before upgrading it.
    type: bool
    default: false
  bin_dir:
    description:
      - Directory with the C(helm) binary. Defaults to C(ADHAR_BIN_DIR), else the toolchain cache
        (C(~/.cache/adhar/bin/<toolchain id>/)) filled by C(tools/toolchain ensure).
    type: path
notes:
  - Uses the C(helm) binary only; O(wait) also needs the C(kubernetes) Python library.
  - O(set_values) are given to helm as values, not on the command line, so they do not show in process listings.
seealso:
  - module: adhar.platform.apply
"""

EXAMPLES = r"""
- name: Install ingress-nginx from its repository, three replicas
  adhar.platform.helm_release:
    name: ingress-nginx
    namespace: ingress-nginx
    create_namespace: true
    chart: ingress-nginx
    chart_repo_url: https://kubernetes.github.io/ingress-nginx
    chart_version: 4.12.2
    set_values:
      controller.replicaCount: "3"
    kubeconfig: ~/.kube/adhar-demo.yaml

- name: A local (air-gapped) chart with values from a file and a secret
  adhar.platform.helm_release:
    name: postgresql
    namespace: adhar-data
    create_namespace: true
    chart: /srv/charts/postgresql
    values_files:
      - /srv/values/postgresql.yaml
    set_values:
      architecture: replication
      readReplicas.replicaCount: "2"
    secret_values:
      auth.password: "{{ vault_postgresql_password }}"
    atomic: true

- name: The pinned upstream Cilium chart from the toolchain cache (make toolchain fetched it), offline
  adhar.platform.helm_release:
    name: cilium
    namespace: kube-system
    chart: cilium
    toolchain_chart: true
    set_values:
      operator.replicas: "3"

- name: From an OCI registry, without waiting
  adhar.platform.helm_release:
    name: redis
    namespace: adhar-data
    chart: oci://registry-1.docker.io/bitnamicharts/redis
    chart_version: 21.2.13
    wait: false

- name: Remove a release
  adhar.platform.helm_release:
    name: redis
    namespace: adhar-data
    state: absent
"""

RETURN = r"""
release:
  description: The release after the task (in check mode, what the dry run reports); null when there is none.
  returned: always
  type: dict
  contains:
    name:
      description: Release name.
      type: str
    namespace:
      description: Release namespace.
      type: str
    chart:
      description: Chart name.
      type: str
      sample: ingress-nginx
    version:
      description: Chart version.
      type: str
      sample: 4.12.2
    app_version:
      description: The chart's app version.
      type: str
    revision:
      description: Release revision.
      type: int
    status:
      description: Helm's status of the revision (C(deployed), C(pending-install) in a dry run, ...).
      type: str
values:
  description: The user-supplied values of the release as computed by the task (secret values masked).
  returned: always
  type: dict
  sample: {controller: {replicaCount: 3}}
reasons:
  description: Why the release was (or would be) installed or upgraded; empty when it was up to date. Keys are named,
    values are not.
  returned: with O(state=present)
  type: list
  elements: str
  sample: ["chart fixture-ingress-nginx-0.1.0 -> fixture-ingress-nginx-0.2.0", "values changed: controller.replicaCount"]
workloads:
  description: The release's Deployments, StatefulSets and DaemonSets and whether they are ready.
  returned: with O(wait) and O(state=present), outside check mode
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: ingress-nginx, name: ingress-nginx-controller, ready: true, state: ready,
            message: 3 replicas available}]
command:
  description: The last helm command that changed (or dry-ran) something, with temporary files shown as C(<values>) and
    C(<kubeconfig>); null when nothing had to run.
  returned: always
  type: str
  sample: helm upgrade --install ingress-nginx ingress-nginx --repo https://kubernetes.github.io/ingress-nginx --version 4.12.2 ...
duration:
  description: Seconds the task took.
  returned: always
  type: float
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import WAIT_TIMEOUT_BOUNDS, wait_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._helm.release import run_release


def argument_spec():
    return dict(
        name=dict(type="str", required=True, aliases=["release_name"]),
        namespace=dict(type="str", default="default", aliases=["release_namespace"]),
        create_namespace=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        chart=dict(type="str", aliases=["chart_ref"]),
        chart_repo_url=dict(type="str"),
        toolchain_chart=dict(type="bool", default=False),
        chart_version=dict(type="str"),
        values=dict(type="dict", default={}),
        set_values=dict(type="dict", default={}),
        secret_values=dict(type="dict", default={}, no_log=True),
        values_files=dict(type="list", elements="path", default=[]),
        **wait_arg_spec(300, wait=True),
        atomic=dict(type="bool", default=False),
        bin_dir=dict(type="path"),
    )


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True, bounds=WAIT_TIMEOUT_BOUNDS,
                         required_if=[("state", "present", ("chart",))])
    module.run(run_release)


if __name__ == "__main__":
    main()
