#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: apply
short_description: Apply or delete many Kubernetes objects at once with server-side apply
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Applies any number of Kubernetes objects in one task with server-side apply (one C(PATCH) per object, no read first),
    in parallel with a bounded number of workers.
  - Objects come from O(definitions) (a list of objects or YAML text), from O(src) files and directories, and from
    Jinja O(template) files rendered on the controller. C(List) kinds are flattened; fields the server owns (C(status),
    C(metadata.resourceVersion), C(metadata.uid), C(metadata.managedFields), ...) are dropped, so the output of
    C(kubectl get -o yaml) can be applied.
  - Order. Namespaces and CustomResourceDefinitions are applied first; the task waits until the CRDs are Established and
    learns their resources, so custom resources of a CRD can be in the same task. Then PriorityClasses, ResourceQuotas,
    LimitRanges, ServiceAccounts and StorageClasses; then everything else.
  - Only the API group-versions the objects use are discovered, in parallel; a kind the server does not know is an
    error before anything is written (unless a CRD of the same task defines it).
  - With O(wait), everything is applied first and then waited for, with watches, under one O(wait_timeout). Deployments
    (updated and available), StatefulSets, DaemonSets, Jobs (complete), CRDs (Established), Pods (ready), and the objects
    O(wait_condition) selects, are waited for.
  - With O(apply_set) and O(prune), objects applied earlier with the same O(apply_set) that are no longer in the input
    are deleted.
  - Apply sets follow the Kubernetes ApplySet specification (KEP-3659), the format of
    C(kubectl apply --prune --applyset), so kubectl can see, apply and prune the same set (see O(apply_set_tooling)).
  - A task whose objects are all unchanged reports C(changed=false) and makes one request per object.
extends_documentation_fragment:
  - adhar.platform.k8s_auth
  - adhar.platform.attributes
  - adhar.platform.wait
  - adhar.platform.workers
attributes:
  check_mode:
    support: full
    details:
      - Every write is sent with C(dryRun=All), so the API server validates and defaults it (admission included) without
        storing anything; C(results) and C(changes) say what would be created, configured or deleted.
      - Objects whose Namespace or CRD the same task would create cannot be validated by the server; they are reported
        as V(created) with a C(message) saying so.
  diff_mode:
    support: full
    details:
      - Each object is read before it is applied; changed objects get C(diff) (before and after, without C(status),
        C(metadata.managedFields) and C(metadata.resourceVersion)). Secret values are never shown.
options:
  definitions:
    description:
      - Objects to apply or delete.
      - A list whose entries are objects (dictionaries) or YAML text (several documents allowed), a single object, or
        YAML text.
    type: raw
  src:
    description:
      - Paths of YAML or JSON files, or of directories whose C(*.yaml), C(*.yml) and C(*.json) files are read (sorted by
        name, not recursively).
      - Relative paths are looked up on the controller like other C(files) (role C(files/), playbook directory).
      - When the task runs on a remote host, the files are read on the controller and their content is sent.
    type: list
    elements: path
  template:
    description:
      - Jinja templates rendered on the controller with the task's variables (like P(ansible.builtin.template#lookup)),
        a path or a list of paths. Each rendered template may hold several YAML documents.
      - Relative paths are looked up like other templates (role C(templates/), playbook directory).
      - Used together with O(definitions) and O(src); handled by the action plugin, never by the module itself.
    type: raw
  namespace:
    description:
      - Namespace of namespaced objects that do not name one. Objects that name their namespace keep it.
      - Also the default of O(apply_set_namespace), and the namespace of the record of an apply set written by an earlier
        release (see O(apply_set)).
      - Defaults to V(default).
    type: str
  state:
    description:
      - V(present) applies the objects; V(absent) deletes them (in reverse order, so everything else goes before
        Namespaces and CRDs). Objects already gone, and objects of kinds the server does not serve, count as V(unchanged).
      - With V(absent), O(apply_set) and O(prune), every object of the apply set is deleted as well, and its parent.
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description:
      - Field manager name of the server-side apply. Fields this manager set earlier and that are no longer in an
        object are removed from it.
    type: str
    default: adhar
  force_conflicts:
    description:
      - Take ownership of fields another field manager owns instead of failing with a conflict.
    type: bool
    default: false
  apply_set:
    description:
      - Name of the set of objects this task owns, and of its ApplySet parent object (see O(apply_set_parent)), 1-253
        lower-case letters, digits, V(-) and V(.), starting and ending with a letter or digit.
      - The parent, in O(apply_set_namespace), carries the label C(applyset.kubernetes.io/id) (value
        C(applyset-<base64url(sha256(<name>.<namespace>.<kind>.))>-v1), as kubectl computes it) and the annotations
        C(applyset.kubernetes.io/tooling), C(applyset.kubernetes.io/contains-group-kinds) and
        C(applyset.kubernetes.io/additional-namespaces), which record every kind and namespace the set has used, so
        that O(prune) also finds kinds no longer in the input. It is written (server-side apply, field manager
        C(<tool>-applyset)) only when it changes; in check mode as a dry run.
      - Every object gets the labels C(applyset.kubernetes.io/part-of=<id>) and C(app.kubernetes.io/managed-by=adhar)
        (unless it sets its own C(app.kubernetes.io/managed-by)).
      - A parent that exists without the tooling annotation, with another C(applyset.kubernetes.io/id), or naming
        another tool is refused before anything changes.
      - Sets written by earlier releases of this collection (members labelled C(adhar.io/apply-set=<name>), a record
        ConfigMap C(adhar-apply-set-<name>) in O(namespace)) are adopted by the first run that finds no parent; the
        members of the kinds of the input and of the record get the C(part-of) label instead of the old one (a merge
        patch; members not in the input are reported as V(configured) with a C(message)), the parent records their
        kinds and namespaces, and the old record is deleted. Nothing is deleted unless O(prune) is set, exactly as
        before.
    type: str
  apply_set_parent:
    description:
      - Kind of the ApplySet parent object, V(Secret) (the default of C(kubectl apply --applyset)) or V(ConfigMap).
      - C(kubectl) names the parent V(secrets/<name>) or V(configmaps/<name>) in C(--applyset), with C(-n <namespace>).
      - Cluster-scoped parents (custom resources) are not supported.
    type: str
    choices: [Secret, ConfigMap]
    default: Secret
  apply_set_namespace:
    description:
      - Namespace of the ApplySet parent object. Defaults to O(namespace) (V(default) when that is not set).
      - It may be a Namespace the same task creates.
    type: str
  apply_set_tooling:
    description:
      - The tool recorded in the parent's C(applyset.kubernetes.io/tooling) annotation, a name optionally followed by
        C(/VERSION); without a version, the version of an existing parent of the same tool is kept, and a new parent
        gets C(<name>/v1).
      - By the ApplySet rules a tool refuses to change a set whose parent names another tool, and C(kubectl) (which
        records itself as C(kubectl/<its version>)) accepts only parents that name C(kubectl); there is no override.
        So the default V(adhar.platform) keeps kubectl away from the set, and V(kubectl) shares it with
        C(kubectl apply --prune --applyset=...) (C(KUBECTL_APPLYSET=true) is needed for kubectl to prune); the parent's
        fields are then written with kubectl's field manager C(kubectl-applyset).
      - A parent that names another tool than this option is refused with an error naming both.
    type: str
    default: adhar.platform
  prune:
    description:
      - Delete objects of O(apply_set) that are not in the input. Needs O(apply_set).
      - Skipped (with a warning) when any object failed to apply. Objects with a controller owner reference are never
        pruned. In check mode the deletions are sent as dry runs and reported as V(pruned).
    type: bool
    default: false
  wait:
    description:
      - After everything is applied, wait until the objects are ready (see the description), or, with V(absent),
        until they are gone.
      - Not done in check mode.
    default: false
  wait_timeout:
    description:
      - Seconds for all the waiting of the task together. CRDs of the input are always waited for (up to this long)
        before their custom resources are applied.
      - Greater than 0.
    default: 300
  wait_condition:
    description:
      - A status condition to wait for (with O(wait)).
      - Applies to the kinds in O(wait_condition.kinds); without them, to custom resources (objects whose API group is
        not Kubernetes' own).
      - Given without O(wait=true) it is an error (nothing would be waited for).
    type: dict
    suboptions:
      type:
        description:
          - The condition type, for example V(Ready).
        type: str
        required: true
      status:
        description:
          - The status the condition must have.
        type: str
        choices: ["True", "False", "Unknown"]
        default: "True"
      reason:
        description:
          - The reason the condition must have, if any.
        type: str
      kinds:
        description:
          - Kinds the condition applies to; it replaces the built-in rule of a kind listed here.
        type: list
        elements: str
  workers:
    description:
      - Objects applied (or deleted) at the same time.
      - From 1 to 256.
    default: 8
  continue_on_error:
    description:
      - Apply every object and report each failure in its result, instead of starting nothing new after the first
        failure. The task then succeeds with warnings; C(errors) lists the failures.
      - Without it, the task fails at the first failure; objects already in flight finish, the others are reported
        as V(skipped), and nothing is pruned.
    type: bool
    default: false
notes:
  - Secrets are applied like everything else; their values never appear in C(diff).
  - The module itself makes no requests beyond the objects, the group-versions they need, one C(LIST namespaces?limit=1)
    to detect changes (skipped in check and diff mode), and, for apply sets, one C(GET) of the parent (and a C(PATCH)
    when it changes), and with O(prune) one labelled C(LIST) per kind of the set. The first run on a set without
    a parent also lists each kind once by the old label (see O(apply_set)).
  - "kubectl: C(KUBECTL_APPLYSET=true kubectl apply --prune --applyset=secrets/<name> -n <namespace> -f ...) works on a
    set whose O(apply_set_tooling) is V(kubectl); kubectl refuses a parent that names another tool."
seealso:
  - module: adhar.platform.cluster
requirements:
  - kubernetes >= 28.1.0 (Python)
  - PyYAML
"""

EXAMPLES = r"""
- name: Apply the manifests of a directory and wait for the workloads
  adhar.platform.apply:
    kubeconfig: ~/.kube/config
    src:
      - manifests/
    wait: true
    wait_timeout: 600

- name: A CRD and a custom resource of it in one task
  adhar.platform.apply:
    definitions:
      - apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          names: {kind: Widget, plural: widgets, singular: widget}
          scope: Namespaced
          versions:
            - name: v1
              served: true
              storage: true
              schema:
                openAPIV3Schema:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
      - apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: first
        spec:
          size: 3
    namespace: apps

- name: Render templates on the controller and own the result as an apply set (prune what was dropped)
  adhar.platform.apply:
    template:
      - core-services.yaml.j2
      - monitoring.yaml.j2
    apply_set: platform-core
    prune: true

- name: Share an apply set with kubectl (KUBECTL_APPLYSET=true kubectl apply --prune --applyset=configmaps/edge -n edge)
  adhar.platform.apply:
    src: [edge/]
    namespace: edge
    apply_set: edge
    apply_set_parent: ConfigMap
    apply_set_tooling: kubectl
    prune: true

- name: Wait for a custom resource's Ready condition
  adhar.platform.apply:
    src: [databases.yaml]
    wait: true
    wait_condition:
      type: Ready
      kinds: [PostgresCluster]

- name: Remove everything the apply set ever created, and wait until it is gone
  adhar.platform.apply:
    apply_set: platform-core
    prune: true
    state: absent
    wait: true
"""

RETURN = r"""
results:
  description:
    - One entry per object of the input (in input order), then the ApplySet parent when it is (or would be) created,
      configured or deleted, then one per pruned object, then one per member adopted from an earlier release's set.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    apiVersion:
      description: API version of the object.
      type: str
      sample: apps/v1
    namespace:
      description: Namespace of the object; null for cluster-scoped objects.
      type: str
      sample: apps
    name:
      description: Name of the object.
      type: str
      sample: web
    action:
      description:
        - What happened (in check mode, what would happen).
        - V(skipped) means the object was not attempted because another one failed first.
      type: str
      choices: [created, configured, unchanged, deleted, pruned, failed, skipped]
      sample: configured
    changed:
      description: Whether the object was (or would be) changed.
      type: bool
      sample: true
    error:
      description: Why the object failed (or did not become ready); null otherwise.
      type: str
      sample: "HTTP 422 Invalid: ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value"
    message:
      description: A remark, for example why an object could not be validated in check mode.
      returned: sometimes
      type: str
    diff:
      description: The object before and after (diff mode, changed objects only).
      returned: diff mode
      type: dict
    wait:
      description: Outcome of the wait for this object (O(wait=true), objects with a readiness rule).
      returned: when waited for
      type: dict
      sample: {ready: true, state: ready, message: 3 replicas available}
counts:
  description: Number of objects per action.
  returned: always
  type: dict
  sample: {created: 3, configured: 1, unchanged: 50, deleted: 0, pruned: 1, failed: 0, skipped: 0}
changes:
  description: One line per object that changed (or would change, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["configured ConfigMap apps/settings", "pruned Secret apps/old-token"]
errors:
  description: One line per object that failed, did not become ready, or was not attempted.
  returned: always
  type: list
  elements: str
failed_count:
  description: Objects that failed or did not become ready.
  returned: always
  type: int
duration:
  description: Seconds the module spent.
  returned: always
  type: float
  sample: 1.42
timings:
  description: Seconds per phase (discovery, apply, crd_established, prune, wait).
  returned: always
  type: dict
  sample: {discovery: 0.02, apply: 1.1, wait: 3.4}
api_discovery_requests:
  description: Discovery requests made (one per API group-version used).
  returned: always
  type: int
  sample: 2
apply_set:
  description:
    - The ApplySet, its id, its parent, the C(kubectl apply) arguments that name it, the tooling annotation, and how many
      members of an earlier release's set were adopted by this run.
  returned: when O(apply_set) is set
  type: dict
  sample:
    name: platform-core
    id: applyset-6p5yQykEnO0V0o4URG20_2aGzrUy62Ya_srXTZ-3se0-v1
    parent: Secret default/platform-core
    kubectl: --applyset=secrets/platform-core -n default
    tooling: adhar.platform/v1
    adopted: 0
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.args import WAIT_TIMEOUT_BOUNDS, WORKERS_BOUNDS, wait_arg_spec, workers_arg_spec
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._k8s.apply import run_apply


def argument_spec():
    return dict(
        definitions=dict(type="raw"),
        src=dict(type="list", elements="path"),
        template=dict(type="raw"),
        namespace=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        field_manager=dict(type="str", default="adhar"),
        force_conflicts=dict(type="bool", default=False),
        apply_set=dict(type="str"),
        apply_set_parent=dict(type="str", choices=["Secret", "ConfigMap"], default="Secret"),
        apply_set_namespace=dict(type="str"),
        apply_set_tooling=dict(type="str", default="adhar.platform"),
        prune=dict(type="bool", default=False),
        **wait_arg_spec(300, wait=False),
        wait_condition=dict(type="dict", options=dict(
            type=dict(type="str", required=True),
            status=dict(type="str", choices=["True", "False", "Unknown"], default="True"),
            reason=dict(type="str"),
            kinds=dict(type="list", elements="str"),
        )),
        **workers_arg_spec(8),
        continue_on_error=dict(type="bool", default=False),
    )


def main():
    module = AdharModule(argument_spec(), k8s_auth=True, supports_check_mode=True,
                         bounds=dict(WAIT_TIMEOUT_BOUNDS, **WORKERS_BOUNDS),
                         required_if=[("prune", True, ["apply_set"])])
    module.run(run_apply)


if __name__ == "__main__":
    main()
