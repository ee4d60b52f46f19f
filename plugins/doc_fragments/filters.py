# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors FILTER_ARG_SPEC (plugins/module_utils/_dr/backup.py) option for option
# (tests/unit/plugins/module_utils/test_k8s_backup.py checks it).  Used by backup and restore as
# adhar.platform.filters: the same options with Velero's semantics for both.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  include_namespaces:
    description:
      - Only objects of these namespaces (in a restore, the namespaces of the backup); globs (V(*), V(?), V([abc]))
        allowed. Defaults to all (V(*)).
      - Every entry must be a string; a number such as V(5) is an error naming the option and the entry's index (quote
        it to mean a namespace named V("5")).
      - An entry that matches no namespace (of the cluster for a backup, of the backup for a restore) is a warning
        naming it, an error with O(strict=true).
    type: list
    elements: raw
  exclude_namespaces:
    description:
      - Not the objects of these namespaces; globs allowed. An exclude wins over an include. A wildcard V(*) is ignored.
      - Every entry must be a string.
    type: list
    elements: raw
  include_resources:
    description:
      - Only these resources, as V(<resource>) or V(<resource>.<group>) (V(configmaps), V(deployments.apps)). Defaults to
        all (V(*)); V(*) wins over specific entries.
      - A backup also takes the kind (V(Deployment)), the singular or a short name (V(cm)); a restore takes globs.
      - Every entry must be a string. An entry that matches no resource (served by the cluster for a backup, held by
        the backup for a restore) is a warning naming it, an error with O(strict=true).
    type: list
    elements: raw
  exclude_resources:
    description:
      - Not these resources, named like in O(include_resources). An exclude wins over an include. A wildcard V(*) is
        ignored.
      - Every entry must be a string.
    type: list
    elements: raw
  label_selector:
    description:
      - Only objects whose labels match, C(k=v), C(k!=v), C(k in (a,b)), C(k notin (a)), C(k), C(!k), comma separated
        (for example V(app=web,tier!=db)).
      - A string; anything else (a list, a number) and a term that cannot be read are errors before anything is
        captured or restored.
      - A backup sends it to the API server with every list; related objects (see O(include_cluster_resources)) are
        captured whatever their labels. A restore also restores the Namespaces of the objects it restores.
    type: raw
  include_cluster_resources:
    description:
      - V(true) takes every cluster-scoped object; V(false) none (the Namespaces of the selected objects are still
        taken).
      - Not set (auto, as in Velero) takes all of them when no namespace filter is given, and otherwise only the related
        ones, the CustomResourceDefinitions of the selected custom resources and the PersistentVolumes bound to the
        selected claims (and the Namespaces of the selected objects).
    type: bool
  strict:
    description:
      - Make include filters that match nothing (O(include_namespaces), O(include_resources)) an error, reported before
        anything is written or restored, instead of a warning.
    type: bool
    default: false
"""
