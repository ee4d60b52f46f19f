# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ``adhar.platform.config`` module runs: validate, resolve or convert one config.

About the package ``_config``: the adhar configuration file: schema, loader, validator, resolver and provider converter.

Pure Python (PyYAML from ansible-core is the only import outside the standard
library); the ``jsonschema`` package is not needed on the target.

* ``schema``    -- ``SCHEMA`` (JSON Schema draft 2020-12, also written to docs/adhar-config.schema.json)
                   and the shared constants (provider types, core services, defaults).
* ``checker``   -- the small validator for the JSON Schema subset ``SCHEMA`` uses.
* ``limits``    -- ``Limits``: file size, values once aliases are expanded, aliases, depth, errors listed.
* ``loader``    -- YAML text -> data within those limits, with line numbers per path and no traceback for bad YAML.
* ``validate``  -- ``validate()``: every error at once, each ``{path, message[, line]}``.
* ``resolve``   -- ``resolve()`` and ``targets()``: the merged view per environment / cluster.
* ``convert``   -- ``convert()`` between providers (aws <-> gcp) with documented tables.
* ``hosts``     -- the inventory hosts, groups and hostvars (used by the ``clusters`` inventory plugin).
* ``action``    -- what the ``adhar.platform.config`` module runs.
"""

from __future__ import annotations

import copy
import os
import tempfile

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._aws.args import AWS_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ARG_SPEC
from ansible_collections.adhar.platform.plugins.module_utils._config import resolve as R
from ansible_collections.adhar.platform.plugins.module_utils._config import schema as S
from ansible_collections.adhar.platform.plugins.module_utils._config import tables
from ansible_collections.adhar.platform.plugins.module_utils._config.convert import Unmappable, convert
from ansible_collections.adhar.platform.plugins.module_utils._config.limits import DEFAULTS as LIMIT_DEFAULTS, Limits
from ansible_collections.adhar.platform.plugins.module_utils._config.paths import names
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import (
    YAML_IMPORT_ERROR, ConfigInvalid, from_data, load_file, yaml,
)
from ansible_collections.adhar.platform.plugins.module_utils._config.validate import validate

ACTIONS = ("validate", "resolve", "convert", "export")
EXPORT_PROVIDERS = ("local", "existing", "eks", "gke")
NEW_FILE_MODE = 0o600


def argument_spec():
    return dict(
        action=dict(type="str", default="validate", choices=list(ACTIONS)),
        src=dict(type="path"),
        content=dict(type="dict"),
        environment=dict(type="str"),
        to_provider=dict(type="str", choices=list(tables.CONVERTIBLE)),
        from_provider=dict(type="str"),
        dest=dict(type="path"),
        limits=dict(type="dict", options={key: dict(type="int", default=value) for key, value in LIMIT_DEFAULTS.items()}),
        cluster=dict(type="str"),
        provider=dict(type="str", default="local", choices=list(EXPORT_PROVIDERS)),
        state_dir=dict(type="path"),
        bin_dir=dict(type="path"),
        location=dict(type="str"),
        **copy.deepcopy(AWS_ARG_SPEC),
        **copy.deepcopy(GCP_ARG_SPEC)
    )


MODULE_KWARGS = dict(
    k8s_auth=True,
    mutually_exclusive=[("src", "content")],
    required_if=[("action", "convert", ("to_provider",)), ("action", "export", ("cluster",))],
)
EXPORT_ONLY = ("cluster", "state_dir", "bin_dir", "location")


def dump(data, header=None):
    """Block-style YAML (lists indented under their key), with ``header`` lines as comments on top."""

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

    text = yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return "".join("# %s\n" % line for line in (header or [])) + text


def _secrets(cfg):
    found = set()
    for block in R.as_map(cfg.get("providers")).values():
        for field in S.SECRET_PROVIDER_FIELDS:
            value = R.as_map(block).get(field)
            if isinstance(value, str) and value:
                found.add(value)
    return found


def _read_existing(dest, size_limit):
    """``(exists, text)`` of ``dest``; ``text`` is ``None`` when the file is larger than ``size_limit`` bytes (not read)."""
    if not os.path.exists(dest):
        return False, None
    if not os.path.isfile(dest):
        raise AdharError("dest: %s exists and is not a regular file" % dest, option="dest")
    try:
        if os.path.getsize(dest) > size_limit:
            return True, None
        with open(dest, encoding="utf-8") as f:
            return True, f.read(size_limit + 1)
    except (OSError, UnicodeDecodeError) as e:
        raise AdharError("dest: cannot read %s: %s" % (dest, e), option="dest")


def write_file(module, dest, text, size_limit=None):
    """Write ``text`` to ``dest`` when it differs (atomic; check mode and diff aware); returns the result keys.

    An existing ``dest`` larger than ``size_limit`` bytes (default: twice the new text) is not read: it differs.
    """
    dest = os.path.abspath(os.path.expanduser(dest))
    exists, before = _read_existing(dest, size_limit or 2 * len(text) + 1)
    changed = before != text
    result = {"dest": dest, "changed": changed}
    if module.diff_mode:
        shown = before if before is not None else ("(%d bytes, not shown)\n" % os.path.getsize(dest) if exists else "")
        result["diff"] = {"before": shown, "after": text, "before_header": dest, "after_header": dest}
    if not changed or module.check_mode:
        return result
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise AdharError("dest: directory %s does not exist" % parent, option="dest")
    fd, tmp = tempfile.mkstemp(prefix=".adhar-config-", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if not exists:
            os.chmod(tmp, NEW_FILE_MODE)
        module.ansible.atomic_move(tmp, dest)
        if not exists:
            os.chmod(dest, NEW_FILE_MODE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return result


def _load(params, limits):
    if params.get("src"):
        return load_file(params["src"], limits=limits)
    return from_data(params.get("content"), name="content", limits=limits)


def _environment_filter(cfg, name):
    envs = R.as_map(cfg.get("environments"))
    if name is not None and name not in envs:
        raise AdharError("environment: unknown environment %r; defined environments: %s" % (name, names(envs) or "none"),
                         option="environment")


def run(module):
    """Returns the module result, or fails the module with ``errors`` when the config is invalid."""
    p = module.params
    if p.get("src") or p.get("dest"):
        module.require("PyYAML", YAML_IMPORT_ERROR, reason="to read src and write dest")
    if p.get("dest") and p["action"] not in ("convert", "export"):
        raise AdharError("dest: only used with action=convert and action=export (got action=%s)" % p["action"], option="dest")
    if p.get("from_provider") and p["action"] != "convert":
        raise AdharError("from_provider: only used with action=convert", option="from_provider")
    limits = Limits.from_option(p.get("limits"))
    if p["action"] == "export":
        return run_export(module, limits)
    for name in EXPORT_ONLY:
        if p.get(name) is not None:
            raise AdharError("%s: only used with action=export (got action=%s)" % (name, p["action"]), option=name)
    if not p.get("src") and p.get("content") is None:
        raise AdharError("one of src or content is required with action=%s" % p["action"], option="src")
    source = _load(p, limits)
    if isinstance(source.data, dict):
        module.no_log_values.update(_secrets(source.data))
    report = validate(source)
    report.raise_if_invalid()
    cfg = source.data
    _environment_filter(cfg, p.get("environment"))
    result = {"changed": False, "valid": True, "errors": [], "errors_truncated": 0, "config_warnings": report.warnings,
              "warnings_truncated": report.warnings_truncated, "source": source.name}
    if p["action"] == "validate":
        hosts = [t["name"] for t in R.targets(cfg)]
        result["summary"] = {
            "providers": list(R.as_map(cfg.get("providers"))),
            "environments": list(R.as_map(cfg.get("environments"))),
            "clusters": [R.as_map(c).get("name") for c in R.as_list(cfg.get("clusters"))],
            "hosts": hosts,
        }
    elif p["action"] == "resolve":
        result.update(R.resolve(cfg, p.get("environment")))
    else:
        converted, changes, notes = convert(cfg, p["to_provider"], p.get("from_provider"), limits)
        result.update({"config": converted, "changes": changes, "notes": notes})
        if p.get("dest"):
            out = dict(source.inventory, **converted)
            header = ["adhar config converted to %s by adhar.platform.config from %s" % (p["to_provider"], source.name)]
            result.update(write_file(module, p["dest"], dump(out, header), limits.size_bytes))
    return result


def run_export(module, limits, helm=None):
    """``action: export``: the config of a live cluster, validated, returned and written to ``dest`` when given."""
    from ansible_collections.adhar.platform.plugins.module_utils._config.export import export

    p = module.params
    for name in ("src", "content"):
        if p.get(name) is not None:
            raise AdharError("%s: not used with action=export (the config comes from the cluster)" % name, option=name)
    if p.get("location") is not None and p["provider"] != "gke":
        raise AdharError("location: only used with provider=gke (got provider=%s)" % p["provider"], option="location")
    cfg, cluster, services, notes, services_error = export(module, limits, helm)
    result = {"changed": False, "valid": True, "errors": [], "errors_truncated": 0, "config_warnings": [],
              "warnings_truncated": 0, "source": "cluster %s (provider %s)" % (p["cluster"], p["provider"]),
              "config": cfg, "cluster": cluster, "services": services, "notes": notes, "services_read": not services_error,
              "services_error": services_error}
    if p.get("dest"):
        header = ["adhar config exported by adhar.platform.config from %s" % result["source"]]
        if services_error:
            header.append("core services NOT read from the cluster (%s); coreServices lists the core_services role's "
                          "services without values" % services_error)
        result.update(write_file(module, p["dest"], dump(cfg, header), limits.size_bytes))
    return result


def main(module):
    """Run and exit; an invalid config fails with ``errors`` (path + message each) and no traceback."""
    try:
        result = run(module)
    except ConfigInvalid as exc:
        module.fail_json(exc.msg, valid=isinstance(exc, Unmappable), errors=exc.errors, errors_truncated=exc.errors_truncated,
                         config_warnings=exc.warnings, warnings_truncated=exc.warnings_truncated)
        return
    except Exception as exc:
        module.fail_from_exception(exc)
        return
    module.exit_json(**result)
