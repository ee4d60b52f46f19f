# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Schema (draft 2020-12) of the adhar configuration file, as a Python dict.

The upstream part mirrors what adhar's Go code reads (``platform/config``):
``globalSettings``, ``providers``, ``environmentTemplates``, ``environments``.
On top of it come the adhar Advanced Topics guide's blocks that upstream silently ignores
(``clusters:``, ``backup:``) and this collection's per-cluster knobs
(``controlPlane``, ``nodes``, ``podCidr``, ``serviceCidr``, ``clusterId``,
``mesh``, ``ha``, ``role``, ``environment``, ``kubeconfig``, ``context``).
Upstream keys keep their names and meaning.

``docs/adhar-config.schema.json`` is this dict written as JSON (a unit test
keeps them equal).  Keys starting with ``x-`` are annotations for our own
validator's messages; standard JSON Schema validators ignore them.
"""

from __future__ import annotations

PROVIDER_TYPES = ("aws", "azure", "gcp", "digitalocean", "civo", "custom", "kind")
ENVIRONMENT_TYPES = ("production", "non-production")
ROLES = ("primary", "replica")
# Core services upstream's resolve keeps (adhar HEAD; doc-era had nginx instead of gateway).
UPSTREAM_CORE_SERVICES = ("argocd", "gitea", "gateway", "cilium")
# Core services this collection adds: the guide's Nginx ingress and its HA data stores.
EXTRA_CORE_SERVICES = ("nginx", "postgresql", "redis", "minio")
CORE_SERVICES = UPSTREAM_CORE_SERVICES + EXTRA_CORE_SERVICES
CONTROL_PLANE_COUNTS = (1, 3, 5)
BACKUP_STORAGE_TYPES = ("local", "s3")

# upstream setDefaults()
GLOBAL_DEFAULTS = {
    "adharContext": "adhar-mgmt",
    "defaultHost": "platform.adhar.io",
    "defaultHttpPort": 80,
    "defaultHttpsPort": 8443,
    "enableHAMode": False,
    "email": "admin@adhar.io",
}
# upstream setDefaults() also fills providers.kind.{type,region}
KIND_PROVIDER_DEFAULTS = {"type": "kind", "region": "local"}

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
CIDR_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"
RETENTION_PATTERN = r"^[1-9][0-9]*[hdw]$"

_NAME_MESSAGE = "is not a valid name: use lower-case letters, digits and '-' (at most 63), starting and ending with a letter or digit"
_CIDR_MESSAGE = "is not an IPv4 CIDR like 10.244.0.0/16"


def _str(description, **extra):
    out = {"type": "string", "description": description}
    out.update(extra)
    return out


def _bool(description):
    return {"type": "boolean", "description": description}


def _obj(properties, required=(), description=None, **extra):
    out = {"type": "object"}
    if description:
        out["description"] = description
    out["properties"] = properties
    if required:
        out["required"] = list(required)
    out["additionalProperties"] = False
    out.update(extra)
    return out


def _if_type(value, then, key="type"):
    return {"if": {"properties": {key: {"const": value}}, "required": [key]}, "then": then}


_AUTH_STR = (
    "credentials_file", "accessKeyId", "secretAccessKey", "sessionToken", "profile",
    "clientId", "clientSecret", "tenantId", "certificatePath",
    "projectId", "serviceAccountKeyFile", "serviceAccountKey", "impersonateServiceAccount", "token",
)
_AUTH_BOOL = (
    "useEnvironment", "useManagedK8s", "useInstanceRole", "useManagedIdentity", "useAzureCLI",
    "useApplicationDefault", "useComputeMetadata",
)

# Fields whose values are credentials (masked in module output).
SECRET_PROVIDER_FIELDS = ("secretAccessKey", "sessionToken", "clientSecret", "serviceAccountKey", "token")


def _provider(require_type_region):
    props = {
        "type": {"enum": list(PROVIDER_TYPES), "description": "Provider type."},
        "region": _str("Default region of the provider's clusters.", minLength=1),
        "primary": _bool("The management (primary) provider; required on one of two providers."),
    }
    for name in _AUTH_STR:
        props[name] = {"type": "string"}
    for name in _AUTH_BOOL:
        props[name] = {"type": "boolean"}
    props["config"] = {
        "type": "object",
        "description": "Free-form provider settings (aws: vpc_cidr, instance_types; gcp: project_id, zone, subnet_cidr, "
                       "instance_types; azure: resource_group, vnet_cidr; digitalocean: vpc_cidr; custom: nodes).",
    }
    out = _obj(props, required=("type", "region") if require_type_region else ())
    out["allOf"] = [
        _if_type("aws", {"properties": {"config": {"$ref": "#/$defs/awsConfig"}}}),
        _if_type("gcp", {"properties": {"config": {"$ref": "#/$defs/gcpConfig"}}}),
        _if_type("azure", {"properties": {"config": {"$ref": "#/$defs/azureConfig"}}}),
        _if_type("digitalocean", {"properties": {"config": {"$ref": "#/$defs/vpcConfig"}}}),
        _if_type("custom", {"properties": {"config": {"$ref": "#/$defs/customConfig"}}}),
    ]
    return out


_CIDR = {"type": "string", "pattern": CIDR_PATTERN, "x-message": _CIDR_MESSAGE}
_NON_EMPTY = {"type": "string", "minLength": 1}
_INSTANCE_TYPES = {
    "type": "object",
    "description": "Instance (aws) or machine (gcp) types of the control plane and worker nodes.",
    "properties": {"control_plane": _NON_EMPTY, "worker": _NON_EMPTY},
}

_KEY_VALUE = _obj({
    "key": _str("Setting name.", minLength=1),
    "value": _str("Setting value; always a string in upstream (quote numbers and booleans)."),
}, required=("key", "value"))

_CHART = _obj({
    "repoURL": _str("Helm repository URL, OCI reference or local chart directory.", minLength=1),
    "name": _str("Chart name.", minLength=1),
    "version": _str("Chart version (pin it).", minLength=1),
}, required=("repoURL", "name"), description="Helm chart.")

_SERVICE = _obj({
    "chart": {"$ref": "#/$defs/chart"},
    "values": {"type": "array", "items": {"$ref": "#/$defs/keyValue"}, "description": "Helm values as dotted keys."},
}, minProperties=1, description="One core service.")
_SERVICE["x-why"] = "upstream (viper) drops an empty service entry; give it a chart or values"

_ADDON = _obj({
    "name": _str("Addon (Helm release) name.", minLength=1),
    "chart": {"$ref": "#/$defs/chart"},
    "targetNamespace": _str("Namespace of the release."),
    "createNamespace": _bool("Create the namespace."),
    "values": {"type": "array", "items": {"$ref": "#/$defs/keyValue"}},
}, required=("name", "chart"))


def _cluster_config(required):
    out = {"type": "array", "items": {"$ref": "#/$defs/keyValue"},
           "description": "Cluster settings as key/value strings (kubeVersion, controlPlaneReplicas, workerReplicas, "
                          "nodeInstanceType, ...)."}
    if required:
        out["minItems"] = 1
        out["x-why"] = "upstream rejects an empty clusterConfig (cluster config cannot be empty)"
    return out


def _core_services(required):
    out = {"type": "object", "additionalProperties": {"$ref": "#/$defs/service"},
           "description": "Core services by name: %s (upstream keeps %s)." % (", ".join(CORE_SERVICES), ", ".join(UPSTREAM_CORE_SERVICES))}
    if required:
        out["minProperties"] = 1
        out["x-why"] = "upstream rejects a template without core services (core services cannot be empty)"
    return out


# This collection's knobs, on environments and on clusters.
KNOBS = {
    "ha": _bool("HA mode of this cluster/environment; overrides globalSettings.enableHAMode."),
    "controlPlane": _obj({
        "count": {"type": "integer", "enum": list(CONTROL_PLANE_COUNTS),
                  "x-message": "is not a valid control-plane size: use 1, 3 or 5 (an even number of etcd members adds "
                               "no fault tolerance and risks split votes)",
                  "description": "Control-plane (etcd + API server) members: 1, 3 or 5."},
    }, description="Control plane of the cluster."),
    "nodes": _obj({
        "count": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Worker nodes."},
    }, description="Worker nodes of the cluster."),
    "podCidr": dict(_CIDR, description="Pod network; must not overlap the service network or a meshed cluster's networks."),
    "serviceCidr": dict(_CIDR, description="Service network."),
    "clusterId": {"type": "integer", "minimum": 1, "maximum": 255, "description": "Cluster mesh id (1-255), unique in a mesh."},
    "mesh": _bool("Join the cluster mesh: every cluster with mesh: true meshes with the others."),
    "kubeconfig": _str("Kubeconfig path of an existing (non-local) cluster.", minLength=1),
    "context": _str("Kubeconfig context of an existing (non-local) cluster.", minLength=1),
}

_ROLE = {"enum": list(ROLES), "description": "primary (the management cluster) or replica."}


def _environment():
    props = {
        "type": {"enum": list(ENVIRONMENT_TYPES), "description": "production or non-production.",
                 "x-why": "production or non-production (upstream rejects an environment without a type)"},
        "template": _str("Name of an environmentTemplates entry.", minLength=1,
                         **{"x-why": "the name of an environmentTemplates entry (upstream: template reference is required)"}),
        "provider": _str("Name of a providers entry (default: the primary provider, else the first).", minLength=1),
        "region": _str("Region (default: the provider's region).", minLength=1),
        "clusterConfig": _cluster_config(True),
        "coreServices": _core_services(False),
        "addons": {"type": "array", "items": {"$ref": "#/$defs/addon"}},
        "role": _ROLE,
    }
    props.update(KNOBS)
    return _obj(props, required=("type", "template", "clusterConfig"))


def _cluster():
    props = {
        "name": {"type": "string", "pattern": NAME_PATTERN, "x-message": _NAME_MESSAGE, "description": "Cluster (and inventory host) name."},
        "provider": _str("Name of a providers entry.", minLength=1),
        "region": _str("Region (default: the environment's, else the provider's).", minLength=1),
        "role": _ROLE,
        "environment": _str("Environment whose template and services the cluster gets (default: the only environment).", minLength=1),
    }
    props.update(KNOBS)
    return _obj(props, required=("name", "role"))


_BACKUP = _obj({
    "enabled": _bool("Take scheduled backups."),
    "schedule": _str("Cron schedule, 5 fields (minute hour day-of-month month day-of-week) or @daily/@weekly/...", minLength=1),
    "retention": {"type": ["integer", "string"], "minimum": 1, "pattern": RETENTION_PATTERN,
                  "x-message": "is not a retention like 30 (days), \"30d\", \"72h\" or \"4w\"",
                  "description": "How long backups are kept: a number of days, or a duration with unit h, d or w."},
    "storage": _obj({
        "type": {"enum": list(BACKUP_STORAGE_TYPES), "description": "local (a directory) or s3 (a bucket)."},
        "path": _str("Directory (type local).", minLength=1),
        "bucket": _str("Bucket (type s3).", minLength=1),
        "region": _str("Bucket region (type s3).", minLength=1),
        "endpoint": _str("S3 endpoint URL for S3-compatible stores (type s3).", minLength=1),
        "prefix": _str("Key prefix inside the bucket (type s3).", minLength=1),
    }, required=("type",), allOf=[
        dict(_if_type("s3", {"required": ["bucket"]}), **{"x-when": "storage.type is s3"}),
        dict(_if_type("local", {"required": ["path"]}), **{"x-when": "storage.type is local"}),
    ]),
}, description="Scheduled backups (the guide's backup block; upstream ignores it).",
    allOf=[dict(_if_type(True, {"required": ["schedule", "storage"]}, key="enabled"), **{"x-when": "backup.enabled is true"})])

_KUBE_HINT = ("looks like a Kubernetes manifest; manifests are applied to a cluster, "
              "not written into an adhar config")
_VALUES_HINT = ("looks like Helm values of the {svc} chart; in an adhar config they go under "
                "environmentTemplates.<template>.coreServices.{svc}.values as key/value pairs (for example key: {example})")

# Messages for unknown top-level keys that come from other kinds of YAML documents.
ROOT_HINTS = {
    "apiVersion": _KUBE_HINT,
    "kind": _KUBE_HINT,
    "metadata": _KUBE_HINT,
    "spec": _KUBE_HINT,
    "groups": "looks like a Prometheus rule file; alert rules go into a PrometheusRule object (the monitoring role), "
              "not into an adhar config",
    "cilium": _VALUES_HINT.format(svc="cilium", example="encryption.enabled"),
    "postgresql": _VALUES_HINT.format(svc="postgresql", example="pooler.enabled"),
    "redis": _VALUES_HINT.format(svc="redis", example="sentinel.enabled"),
    "argocd": _VALUES_HINT.format(svc="argocd", example="server.replicas"),
    "gitea": _VALUES_HINT.format(svc="gitea", example="replicaCount"),
    "nginx": _VALUES_HINT.format(svc="nginx", example="controller.replicaCount"),
    "minio": _VALUES_HINT.format(svc="minio", example="mode"),
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/adhar-io/adhar.platform/docs/adhar-config.schema.json",
    "title": "adhar configuration (adhar.platform)",
    "description": "The adhar config file as upstream adhar reads it, plus the guide's clusters/backup blocks and "
                   "adhar.platform's per-cluster knobs. See docs/config.md.",
    "type": "object",
    "properties": {
        "globalSettings": _obj({
            "adharContext": _str("Kubeconfig context name of the management cluster.", minLength=1, default="adhar-mgmt"),
            "defaultHost": _str("Base host name of the platform.", minLength=1, default="platform.adhar.io"),
            "defaultHttpPort": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 80},
            "defaultHttpsPort": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 8443},
            "enableHAMode": {"type": "boolean", "default": False, "description": "HA mode (the guide's --ha-mode)."},
            "email": _str("Contact e-mail for certificates.", minLength=1, default="admin@adhar.io"),
            "dnsProvider": _str("Edge DNS backend (newer upstream): empty, none, cloudflare."),
            "productionProvider": _str("Stored only by upstream."),
            "nonProductionProvider": _str("Stored only by upstream."),
        }, description="Global settings; every field has a default."),
        "providers": {
            "type": "object",
            "minProperties": 1,
            "x-why": "at least one provider must be configured",
            "description": "Providers by name. At most 2; with 2, exactly one has primary: true.",
            "properties": {"kind": {"$ref": "#/$defs/kindProvider"}},
            "additionalProperties": {"$ref": "#/$defs/provider"},
        },
        "environmentTemplates": {
            "type": "object",
            "minProperties": 1,
            "x-why": "at least one environment template must be defined",
            "additionalProperties": {"$ref": "#/$defs/template"},
        },
        "environments": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN, "x-message": _NAME_MESSAGE},
            "additionalProperties": {"$ref": "#/$defs/environment"},
        },
        "clusters": {
            "type": "array",
            "minItems": 1,
            "description": "Federation: one entry per cluster, exactly one with role primary (ignored by upstream).",
            "items": {"$ref": "#/$defs/cluster"},
        },
        "backup": {"$ref": "#/$defs/backup"},
    },
    "required": ["providers", "environmentTemplates"],
    "additionalProperties": False,
    "x-hints": ROOT_HINTS,
    "$defs": {
        "keyValue": _KEY_VALUE,
        "chart": _CHART,
        "service": _SERVICE,
        "addon": _ADDON,
        "provider": _provider(True),
        # upstream's setDefaults fills providers.kind.type and .region
        "kindProvider": _provider(False),
        "awsConfig": {"type": "object", "properties": {"vpc_cidr": _CIDR, "instance_types": _INSTANCE_TYPES}},
        "gcpConfig": {"type": "object", "properties": {"project_id": _NON_EMPTY, "zone": _NON_EMPTY, "subnet_cidr": _CIDR,
                                                       "instance_types": _INSTANCE_TYPES}},
        "azureConfig": {"type": "object", "properties": {"resource_group": _NON_EMPTY, "vnet_cidr": _CIDR}},
        "vpcConfig": {"type": "object", "properties": {"vpc_cidr": _CIDR}},
        "customConfig": {"type": "object", "properties": {"nodes": {"type": "array", "minItems": 1}}},
        "template": _obj({
            "clusterConfig": _cluster_config(True),
            "coreServices": _core_services(True),
            "addons": {"type": "array", "items": {"$ref": "#/$defs/addon"}},
        }, required=("clusterConfig", "coreServices")),
        "environment": _environment(),
        "cluster": _cluster(),
        "backup": _BACKUP,
    },
}
