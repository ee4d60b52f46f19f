#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config
short_description: Validate, resolve, convert and export an adhar configuration file
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Reads an adhar config (the file C(adhar up -f) takes) from O(src) or O(content) and validates it against the collection's
    JSON Schema (C(docs/adhar-config.schema.json)) and the rules a schema cannot express.
  - The format is upstream adhar's (C(globalSettings), C(providers), C(environmentTemplates), C(environments)) plus the adhar Advanced Topics guide's
    document's C(clusters) (federation) and C(backup) blocks, which upstream ignores, and the collection's per-cluster settings
    (C(controlPlane.count), C(nodes.count), C(podCidr), C(serviceCidr), C(clusterId), C(mesh), C(ha), C(role), C(environment),
    C(kubeconfig), C(context)). See C(docs/config.md).
  - O(action=validate) reports every problem at once, each with its path (for example C(environments.prod.clusterConfig[2].value)),
    a sentence and, for files, the line. An invalid config fails the task with RV(errors); a YAML syntax error is reported with
    its line and column, never with a traceback.
  - O(action=resolve) returns the merged view per environment and per cluster the way upstream resolves it (template plus
    environment, provider and region chosen as upstream does), with the guide's HA defaults applied as core-service values when
    HA mode is on.
  - O(action=convert) converts the config from one cloud provider to another (C(aws) and C(gcp)) with the documented
    instance-type and region tables; a value the tables do not know is an error listing the known ones. With O(dest) the result
    is written there (only when it differs).
  - O(action=export) builds the config of a live cluster (upstream's C(adhar config export --cluster)). Its shape comes from the
    cluster (with provider C(local), the saved spec of the local cluster O(cluster) under O(state_dir); with provider
    C(existing), the API server reached through the Kubernetes connection options; with provider C(eks), the EKS API
    through the AWS connection options; with provider C(gke), the GKE API through the GCP connection options and
    O(location)), its core services from Helm. The config holds the provider,
    an environment template (Kubernetes version, worker nodes, core services), an environment (type, HA, control-plane size)
    and the C(clusters) entry (control plane, nodes, networks, cluster id; kubeconfig and context for an existing cluster).
    For every release the C(adhar.platform.core_services) role manages (its release names and namespaces) that exists, the
    user-supplied values (C(helm get values), not C(--all)) become the service's C(values) as C(--set) keys. Credentials
    (keys ending in password, secret, token, ...) and values C(--set) cannot give back exactly are left out and listed in
    RV(notes). The result is validated as O(action=validate) would before it is returned or written.
  - For an EKS or GKE cluster, Helm reads the releases through the Kubernetes connection options when O(kubeconfig),
    O(context) or O(host) is given, else through a kubeconfig with the cloud's token for the cluster's endpoint. When that
    API server does not answer, the config still has the cluster's shape, its C(coreServices) lists the
    C(adhar.platform.core_services) role's services without values, RV(services_read) is V(false) and
    RV(services_error) and RV(notes) say why. Export never writes to the cloud.
  - An inventory source of the P(adhar.platform.clusters#inventory) plugin (a file with a C(plugin) key) is accepted too; its
    inventory options are ignored.
  - Reading is bounded by O(limits) (file size, values once YAML aliases are expanded, alias uses, nesting depth, errors listed), so
    a YAML alias bomb, a deeply nested or an oversized file fails at once with one error naming the line, the limit and how to
    raise it; a YAML alias inside the node it names fails as a recursive anchor.
options:
  action:
    description:
      - What to do with the config.
    type: str
    choices: [validate, resolve, convert, export]
    default: validate
  src:
    description:
      - Path of the config file (YAML) on the host the module runs on (the controller for the collection's playbooks).
      - Exactly one of O(src) and O(content) is required, except with O(action=export) where neither is used.
    type: path
  content:
    description:
      - The config as a dictionary, instead of O(src).
    type: dict
  environment:
    description:
      - Only return this environment (and its clusters) with O(action=resolve).
      - Must name an environment of the config.
    type: str
  to_provider:
    description:
      - Provider type to convert to with O(action=convert) (required then).
    type: str
    choices: [aws, gcp]
  from_provider:
    description:
      - Name of the one provider (a key of C(providers)) to convert with O(action=convert).
      - By default every provider whose type is convertible and differs from O(to_provider) is converted.
    type: str
  cluster:
    description:
      - With O(action=export) (required then), the cluster to export and its name in the exported config.
      - With O(provider=local), the name of the local cluster (as given to M(adhar.platform.cluster)).
    type: str
  provider:
    description:
      - With O(action=export), the kind of cluster. V(local) reads the local cluster's saved spec; V(existing) asks the API
        server given by the Kubernetes connection options (version from C(/version), worker nodes, the API servers' identity
        Leases (else the C(kubernetes) Service endpoints) as the control-plane size when it is 1, 3 or 5,
        the service network from the ServiceCIDR object C(kubernetes)).
      - V(eks) reads the EKS cluster (DescribeCluster, ListNodegroups, DescribeNodegroup, DescribeSubnets for HA, that is
        subnets in two or more Availability Zones) through the AWS connection options.
      - V(gke) reads the GKE cluster in O(location) (C(clusters.get), node pools included) through the GCP connection
        options; a region means a regional, highly available cluster.
      - For both, the control plane is run by the cloud and its size is not exported; the worker count, autoscaling bounds
        (summed over node groups or pools, per-zone counts times zones for GKE), instance type, endpoint access and
        secrets encryption are.
    type: str
    choices: [local, existing, eks, gke]
    default: local
  state_dir:
    description:
      - With O(action=export) and O(provider=local), the directory that holds the local clusters (default C(ADHAR_STATE_DIR),
        else C(~/.local/state/adhar)).
    type: path
  location:
    description:
      - With O(action=export) and O(provider=gke) (required then), the region or zone of the GKE cluster.
    type: str
  bin_dir:
    description:
      - With O(action=export), the directory with the C(helm) binary (default C(ADHAR_BIN_DIR), else the toolchain cache).
    type: path
  dest:
    description:
      - With O(action=convert) or O(action=export), write the resulting config (YAML) to this path.
      - The file is only written when its content would change. A new file gets mode C(0600) (it can hold credentials); an
        existing file keeps its mode.
    type: path
  limits:
    description:
      - Bounds on reading the config (every action); each defaults as below and can be raised up to its maximum.
      - With the defaults, the module stays well under 200 MB of memory on any input (see C(docs/config.md)).
    type: dict
    suboptions:
      size_mib:
        description: Largest O(src) file, in MiB (at most 32).
        type: int
        default: 4
      nodes:
        description:
          - Most values (scalars, lists and mappings) once YAML aliases are expanded (at most 500000). Also applies to O(content).
          - Also bounds the resolved views of all environments and clusters, each of which holds a copy of its environment's
            template, services, addons and provider config (their text is bounded by O(limits.size_mib) too).
        type: int
        default: 100000
      aliases:
        description: Most YAML alias uses (C(*name)) in O(src) (at most 100000).
        type: int
        default: 1000
      depth:
        description: Deepest nesting of lists and mappings, through aliases too (at most 100). Also applies to O(content).
        type: int
        default: 64
      errors:
        description: Most entries in RV(errors) and in RV(config_warnings); the others are counted in RV(errors_truncated) and
          RV(warnings_truncated) (at most 10000).
        type: int
        default: 100
extends_documentation_fragment:
  - adhar.platform.attributes
  - adhar.platform.k8s_auth
  - adhar.platform.aws
  - adhar.platform.gcp
attributes:
  check_mode:
    support: full
    details:
      - With O(dest), reports whether the file would change without writing it.
  diff_mode:
    support: full
    details:
      - With O(dest), returns the file's content before and after.
requirements:
  - python >= 3.11
  - PyYAML (comes with ansible-core)
  - kubernetes (only for O(action=export) with O(provider=existing), and to read the core services of an EKS or GKE cluster)
  - boto3 (only for O(action=export) with O(provider=eks))
  - google-auth and requests (only for O(action=export) with O(provider=gke))
  - helm (only for O(action=export); the toolchain's, see O(bin_dir))
notes:
  - Pure Python; the C(jsonschema) package is not needed.
  - The Kubernetes connection options are only used by O(action=export) with O(provider=existing), and by Helm with
    O(provider=eks) and O(provider=gke).
  - The AWS connection options are only used with O(provider=eks), the GCP ones only with O(provider=gke); other actions
    ignore them, so the module can be a member of the C(aws) and C(gcp) action groups.
  - Credentials found in C(providers) (C(token), C(secretAccessKey), ...) are masked in the module's output.
seealso:
  - plugin: adhar.platform.clusters
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Validate the config (fails with every error listed)
  adhar.platform.config:
    src: inventories/local/adhar.yml

- name: Validate and keep going, to show the errors in a custom way
  adhar.platform.config:
    src: /etc/adhar/config.yaml
  register: adhar_check
  ignore_errors: true

- name: Print each error with its path
  ansible.builtin.debug:
    msg: "{{ adhar_check.errors | map(attribute='path') | zip(adhar_check.errors | map(attribute='message')) | map('join', ': ') }}"
  when: adhar_check is failed

- name: Resolve the production environment
  adhar.platform.config:
    action: resolve
    src: inventories/example-multicloud/adhar.yml
    environment: production
  register: adhar_resolved

- name: Show the ArgoCD values the production environment gets
  ansible.builtin.debug:
    var: adhar_resolved.environments.production.coreServices.argocd['values']

- name: Convert the AWS config to GCP and write it next to it
  adhar.platform.config:
    action: convert
    src: aws-config.yaml
    to_provider: gcp
    dest: gcp-config.yaml

- name: Validate a big generated config (raise the default limits of 4 MiB and 100000 values)
  adhar.platform.config:
    src: generated/adhar.yaml
    limits:
      size_mib: 16
      nodes: 300000

- name: Export the local cluster prod (its shape and its core services' values) to a config file
  adhar.platform.config:
    action: export
    cluster: prod
    dest: exported/prod.yaml

- name: Export a cluster someone else runs
  adhar.platform.config:
    action: export
    provider: existing
    cluster: shared-dev
    kubeconfig: ~/.kube/config
    context: shared-dev
  register: adhar_export

- name: Export an EKS cluster (its shape from EKS, its core services through the cluster's endpoint)
  adhar.platform.config:
    action: export
    provider: eks
    cluster: prod-aws
    region: us-east-1
    dest: exported/prod-aws.yaml
  register: adhar_export_eks

- name: Say when the core services could not be read
  ansible.builtin.debug:
    msg: "{{ adhar_export_eks.services_error }}"
  when: not adhar_export_eks.services_read

- name: Export a regional GKE cluster
  adhar.platform.config:
    action: export
    provider: gke
    cluster: prod-gcp
    project: my-project
    location: europe-west1

- name: Validate a config given inline
  adhar.platform.config:
    content:
      providers:
        kind: {type: kind, region: local, primary: true}
      environmentTemplates:
        dev:
          clusterConfig: [{key: kubeVersion, value: v1.36.3}]
          coreServices: {argocd: {values: [{key: server.replicas, value: "1"}]}}
      environments:
        dev: {type: non-production, template: dev, clusterConfig: [{key: workerReplicas, value: "1"}]}
"""

RETURN = r"""
valid:
  description:
    - Whether the config is valid. V(false) fails the task.
    - A valid config that O(action=convert) cannot convert (a value missing from the tables) fails with V(true).
  returned: always
  type: bool
  sample: true
errors:
  description:
    - The errors found, in file order (the first O(limits.errors); RV(errors_truncated) counts the others). Empty when the config
      is valid.
    - A YAML syntax error gives one entry with path C((root)), O(src)'s line and column.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Where the problem is, as a path into the config (C((root)) for the whole document).
      type: str
      sample: environments.prod.clusterConfig[2].value
    message:
      description: What is wrong, as a sentence.
      type: str
      sample: "controlPlaneReplicas 2 is not a valid control-plane size (an even number of etcd members adds no fault tolerance
        and risks split votes); use 1, 3 or 5"
    line:
      description: Line of O(src) the path is on (not for O(content)).
      type: int
      returned: when known
      sample: 12
    column:
      description: Column of a YAML syntax error.
      type: int
      returned: for YAML syntax errors
      sample: 7
  sample:
    - path: clusters[1].name
      message: duplicate cluster name 'prod' (also clusters[0]); cluster names must be unique
      line: 40
errors_truncated:
  description:
    - How many errors were found beyond the first O(limits.errors) listed in RV(errors) (the first ones in file order).
  returned: always
  type: int
  sample: 0
config_warnings:
  description:
    - Things that are valid but probably not what was meant, or that upstream adhar would treat differently (same keys as RV(errors)).
  returned: always
  type: list
  elements: dict
  sample:
    - path: providers
      message: "upstream adhar adds a hidden 'kind' provider and then rejects this file with 'maximum of 2 providers allowed'; adhar.platform accepts it"
warnings_truncated:
  description: How many warnings were found beyond the first O(limits.errors) listed in RV(config_warnings).
  returned: always
  type: int
  sample: 0
source:
  description: Absolute path of O(src), or V(content); with O(action=export), the cluster and provider.
  returned: success
  type: str
  sample: /work/inventories/local/adhar.yml
summary:
  description: Names found in the config.
  returned: when O(action=validate) and the config is valid
  type: dict
  contains:
    providers:
      description: Provider names.
      type: list
      elements: str
    environments:
      description: Environment names.
      type: list
      elements: str
    clusters:
      description: Names of the C(clusters) entries.
      type: list
      elements: str
    hosts:
      description: The hosts the P(adhar.platform.clusters#inventory) inventory plugin makes (clusters, else environments).
      type: list
      elements: str
  sample: {providers: [kind], environments: [prod, staging], clusters: [prod, staging], hosts: [prod, staging]}
environments:
  description:
    - The resolved view of each environment (only O(environment) when given), keyed by name.
  returned: when O(action=resolve)
  type: dict
  contains:
    name:
      description: Environment (or cluster) name.
      type: str
    environment:
      description: Environment the view belongs to (V(null) for a cluster without one).
      type: str
    type:
      description: C(production) or C(non-production) (upstream's C(resolvedType)).
      type: str
    template:
      description: Template name.
      type: str
    role:
      description: C(primary) or C(replica).
      type: str
    provider:
      description: Provider name (upstream's C(resolvedProvider)) - the environment's, else the primary, else the first.
      type: str
    providerType:
      description: Type of that provider (C(aws), C(gcp), C(kind), ...).
      type: str
    region:
      description: Region (upstream's C(resolvedRegion)) - the environment's, else the provider's.
      type: str
    ha:
      description: HA mode - C(ha) of the cluster, else of the environment, else C(globalSettings.enableHAMode).
      type: bool
    controlPlane:
      description: C({count}) - C(controlPlane.count), else the last C(controlPlaneReplicas) entry, else 3 in HA mode, else 1.
      type: dict
    nodes:
      description: C({count}) - C(nodes.count), else the last C(workerReplicas) entry, else 3 in HA mode or production, else 1.
      type: dict
    kubernetesVersion:
      description: The last C(kubeVersion) / C(version) entry of clusterConfig, or V(null).
      type: str
    instanceType:
      description: The last C(nodeInstanceType) / C(instanceType) / C(machineType) entry, else the provider's C(config.instance_types.worker), or V(null).
      type: str
    podCidr:
      description: Pod network (default C(10.244.0.0/16)).
      type: str
    serviceCidr:
      description: Service network (default C(10.96.0.0/16) for local clusters, C(10.96.0.0/12) otherwise, as upstream).
      type: str
    clusterId:
      description: Mesh cluster id (default 1).
      type: int
    mesh:
      description: Whether the cluster joins the mesh.
      type: bool
    localCluster:
      description: Name of the local cluster (provider type C(kind)), else V(null).
      type: str
    kubeconfig:
      description: C(kubeconfig) setting, or V(null).
      type: str
    context:
      description: C(context) setting, or V(null).
      type: str
    clusterConfig:
      description: Template entries then environment entries (upstream's C(resolvedClusterConfig)).
      type: list
      elements: dict
    coreServices:
      description:
        - Per core service C({chart, values, configured}); the environment's entry replaces the template's; HA defaults come first in
          C(values) and configured values override them key by key. Services present only through HA defaults have C(configured=false)
          and C(chart=null).
      type: dict
    droppedCoreServices:
      description: Configured services that are not core services (dropped, as upstream does).
      type: list
      elements: str
    addons:
      description: Template addons then environment addons.
      type: list
      elements: dict
    providerConfig:
      description: The provider's free-form C(config) block.
      type: dict
    globalSettings:
      description: C(globalSettings) with upstream's defaults filled in.
      type: dict
    backup:
      description: The C(backup) block with C(enabled) defaulted and C(ttl) (retention in hours, Velero style), or V(null).
      type: dict
  sample:
    production:
      name: production
      type: production
      provider: aws
      providerType: aws
      region: us-east-1
      ha: true
      controlPlane: {count: 3}
      coreServices:
        argocd: {chart: null, configured: true, values: [{key: server.replicas, value: "3"}]}
clusters:
  description: The resolved view of each C(clusters) entry, keyed by name (same keys as RV(environments)).
  returned: when O(action=resolve)
  type: dict
  sample: {}
config:
  description: The converted config (O(action=convert)), or the exported config (O(action=export)).
  returned: when O(action=convert) or O(action=export)
  type: dict
  sample: {providers: {gcp: {type: gcp, region: us-east4, primary: true}}}
cluster:
  description:
    - What O(action=export) found about the cluster (V(null) where the cluster does not show it).
  returned: when O(action=export)
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
    provider:
      description: C(local), C(existing), ...
      type: str
    provider_type:
      description: The config's provider type (C(kind) for local clusters, C(custom) for existing ones).
      type: str
    region:
      description: Region written to the config.
      type: str
    kubernetes_version:
      description: Kubernetes version.
      type: str
    control_plane_count:
      description: Control-plane members.
      type: int
    ha:
      description: More than one control-plane member.
      type: bool
    nodes_count:
      description: Worker nodes.
      type: int
    pod_cidr:
      description: Pod network.
      type: str
    service_cidr:
      description: Service network.
      type: str
    cluster_id:
      description: Mesh cluster id.
      type: int
    encryption_at_rest:
      description: Secrets encrypted at rest (the exported environment is C(production) then, which turns it on again).
      type: bool
    kubeconfig:
      description: Kubeconfig path written to the config (existing clusters; cloud clusters when O(kubeconfig) is given).
      type: str
    context:
      description: Context written to the config (existing clusters; cloud clusters when O(context) is given).
      type: str
    status:
      description: The cloud's cluster status (C(ACTIVE) for EKS, C(RUNNING) for GKE); V(null) for other providers.
      type: str
    api_endpoint:
      description: The cluster's API server URL (EKS and GKE).
      type: str
    auto_scale:
      description: Whether a node group (EKS, minimum below maximum) or node pool (GKE, autoscaling on) scales.
      type: bool
    min_nodes:
      description: Smallest worker count, summed over node groups or pools (GKE per-zone counts times zones).
      type: int
    max_nodes:
      description: Largest worker count, summed likewise.
      type: int
    instance_type:
      description: Instance or machine type of the workers when every group or pool has the same one.
      type: str
    endpoint_public_access:
      description: Whether the API endpoint is public (EKS endpoint access; GKE without a private-only endpoint).
      type: bool
    endpoint_private_access:
      description: Whether the API endpoint is reachable privately (EKS endpoint access; GKE private nodes).
      type: bool
    provider_config:
      description: What goes to the provider's C(config) block (GKE C(project_id), and C(zone) for a zonal cluster).
      type: dict
    node_groups:
      description: Each EKS node group or GKE node pool as the cloud describes it (name, status, sizes, instance types).
      type: list
      elements: dict
  sample: {name: prod, provider: local, control_plane_count: 3, ha: true, nodes_count: 3, kubernetes_version: v1.36.3}
services_read:
  description:
    - Whether the core services were read from the cluster's Helm releases. V(false) for an EKS or GKE cluster whose API
      server did not answer (RV(services_error) says why).
  returned: when O(action=export)
  type: bool
  sample: true
services_error:
  description: Why the core services could not be read, or V(null).
  returned: when O(action=export)
  type: str
  sample: "the API server https://127.0.0.1:1 did not answer: Connection refused"
services:
  description: The core services O(action=export) found, by config name.
  returned: when O(action=export)
  type: dict
  sample:
    cilium: {release: cilium, namespace: kube-system, chart: cilium-1.20.0, status: deployed, revision: 2, values: 3}
notes:
  description:
    - O(action=convert), settings it removed or that need attention on the target provider.
    - O(action=export), what was left out (credentials, values C(--set) cannot give back as they are, facts the cluster does
      not show).
  returned: when O(action=convert) or O(action=export)
  type: list
  elements: str
  sample: ["postgresql auth.password: left out (a credential; set it again on the new cluster)"]
changes:
  description: Every value convert changed, with its path in the original config.
  returned: when O(action=convert)
  type: list
  elements: dict
  sample:
    - {path: providers.aws.region, from: us-east-1, to: us-east4}
dest:
  description: Absolute path of O(dest).
  returned: when O(dest) is given
  type: str
  sample: /work/gcp-config.yaml
"""

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharModule
from ansible_collections.adhar.platform.plugins.module_utils._config import action


def main():
    module = AdharModule(action.argument_spec(), supports_check_mode=True, **action.MODULE_KWARGS)
    action.main(module)


if __name__ == "__main__":
    main()
