# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adhar configuration file: schema, loader, validator, resolver and provider converter.

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
