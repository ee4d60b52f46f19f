# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApplySets as specified by Kubernetes KEP-3659 (the format ``kubectl apply --prune --applyset`` uses).

An ApplySet is a *parent* object (here a Secret or a ConfigMap in one
namespace) that carries:

* the label ``applyset.kubernetes.io/id`` whose value is
  ``applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1``
  (URL-safe alphabet, no padding; the group of Secret and ConfigMap is empty,
  so the hashed text ends with a dot);
* the annotation ``applyset.kubernetes.io/tooling`` (``<tool>/<version>``):
  a tool refuses a parent that names another tool;
* the annotation ``applyset.kubernetes.io/contains-group-kinds``: the
  ``Kind.group`` (``Kind`` for the core group) of every kind the set may have
  members of, sorted and comma-separated;
* the annotation ``applyset.kubernetes.io/additional-namespaces``: the
  namespaces other than the parent's that may hold members, sorted and
  comma-separated.

Every member carries the label ``applyset.kubernetes.io/part-of=<id>``.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
GROUP_RESOURCES_ANNOTATION = "applyset.kubernetes.io/contains-group-resources"  # older kubectl releases
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"

PARENT_KINDS = {"Secret": "secrets", "ConfigMap": "configmaps"}
DEFAULT_TOOL = "adhar.platform"
# The version written after the tool name: the revision of this collection's ApplySet handling.
TOOL_VERSION = "v1"

# Legacy apply sets of this collection (before ApplySets): members labelled adhar.io/apply-set=NAME, kinds and
# namespaces recorded in the ConfigMap adhar-apply-set-NAME of the task's namespace.
LEGACY_LABEL = "adhar.io/apply-set"
LEGACY_RECORD_PREFIX = "adhar-apply-set-"

NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
TOOL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(/[A-Za-z0-9][-A-Za-z0-9_.+]*)?$")


def applyset_id(name, namespace, kind, group=""):
    """The value of ``applyset.kubernetes.io/id`` (and ``part-of``) for a parent ``name`` in ``namespace``."""
    text = ".".join((name, namespace or "", kind, group or ""))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "applyset-{0}-v1".format(base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="))


def tool_name(tooling):
    """``kubectl`` of ``kubectl/v1.36.3``: everything before the last ``/`` (the whole value without one)."""
    return tooling.rpartition("/")[0] if "/" in tooling else tooling


def split_list(value):
    """A comma-separated annotation as a set (an empty value is an empty set)."""
    return {v.strip() for v in (value or "").split(",") if v.strip()}


def join_list(values):
    return ",".join(sorted(values))


def split_group_kind(group_kind):
    """``("apps", "Deployment")`` of ``Deployment.apps``; ``("", "ConfigMap")`` of ``ConfigMap``."""
    kind, dummy, group = group_kind.partition(".")
    return group, kind


def validate(name, parent_kind, namespace, tooling):
    """Check the apply set options; one ``AdharError`` naming the option and the rule."""
    if not isinstance(name, str) or not NAME.match(name):
        raise AdharError("apply_set: {0!r} is not valid: the name of the parent {1}, 1-253 lower-case letters, "
                         "digits, '-' and '.', starting and ending with a letter or digit".format(name, parent_kind),
                         option="apply_set")
    if parent_kind not in PARENT_KINDS:
        raise AdharError("apply_set_parent: {0!r} is not valid: one of {1}".format(parent_kind, ", ".join(sorted(PARENT_KINDS))),
                         option="apply_set_parent")
    if not NAME.match(namespace or "") or len(namespace) > 63 or "." in namespace:
        raise AdharError("apply_set_namespace: {0!r} is not a valid namespace name (1-63 lower-case letters, digits "
                         "and '-')".format(namespace), option="apply_set_namespace")
    if not isinstance(tooling, str) or not TOOL.match(tooling):
        raise AdharError("apply_set_tooling: {0!r} is not valid: a tool name, optionally followed by /VERSION "
                         "(for example adhar.platform or kubectl/v1.36.3)".format(tooling), option="apply_set_tooling")


class Parent:
    """The parent object of one ApplySet: what the cluster holds and what this run writes."""

    def __init__(self, name, namespace, kind="Secret", tooling=DEFAULT_TOOL):
        validate(name, kind, namespace, tooling)
        self.name = name
        self.namespace = namespace
        self.kind = kind
        self.tooling = tooling
        self.id = applyset_id(name, namespace, kind)
        self.exists = False
        self.live_tooling = None
        self.group_kinds = set()
        self.namespaces = set()
        self.live = None

    @property
    def path(self):
        return "/api/v1/namespaces/{0}/{1}/{2}".format(self.namespace, PARENT_KINDS[self.kind], self.name)

    @property
    def ref(self):
        """How ``kubectl apply --applyset`` names it: ``secrets/NAME`` (with ``-n NAMESPACE``)."""
        return "{0}/{1}".format(PARENT_KINDS[self.kind], self.name)

    @property
    def field_manager(self):
        """The field manager of the parent's fields, ``<tool>-applyset`` like kubectl's ``kubectl-applyset``."""
        return tool_name(self.tooling) + "-applyset"

    @property
    def tooling_value(self):
        """What to write in the tooling annotation: the live value when it names the same tool (no churn), else
        the option with this collection's version added when it has none."""
        if self.live_tooling and tool_name(self.live_tooling) == tool_name(self.tooling) and "/" not in self.tooling:
            return self.live_tooling
        return self.tooling if "/" in self.tooling else "{0}/{1}".format(self.tooling, TOOL_VERSION)

    def load(self, obj, warn=None):
        """Read the live parent (``None`` when it does not exist); refuse one this run must not take (like kubectl)."""
        self.live = obj
        if obj is None:
            self.exists = False
            return
        self.exists = True
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        annotations = meta.get("annotations") or {}
        where = "{0} {1}/{2}".format(self.kind, self.namespace, self.name)
        tooling = annotations.get(TOOLING_ANNOTATION)
        if tooling is None:
            raise AdharError("apply_set: {0} exists but is not an ApplySet parent (no {1} annotation); refusing to take "
                             "it over: choose another apply_set name or delete it".format(where, TOOLING_ANNOTATION),
                             option="apply_set")
        if tool_name(tooling) != tool_name(self.tooling):
            raise AdharError("apply_set: the ApplySet parent {0} belongs to the tool {1!r} ({2}={3}), not to {4!r}; "
                             "set apply_set_tooling: {1} to manage it together with that tool".format(
                                 where, tool_name(tooling), TOOLING_ANNOTATION, tooling, tool_name(self.tooling)),
                             option="apply_set_tooling")
        if labels.get(ID_LABEL) != self.id:
            raise AdharError("apply_set: {0} has the label {1}={2!r}, expected {3!r}; refusing to take it over".format(
                where, ID_LABEL, labels.get(ID_LABEL), self.id), option="apply_set")
        self.live_tooling = tooling
        if GROUP_KINDS_ANNOTATION in annotations:
            self.group_kinds = split_list(annotations[GROUP_KINDS_ANNOTATION])
        elif warn is not None:
            warn("ApplySet parent {0} has no {1} annotation; only the kinds of the input are pruned".format(
                where, GROUP_KINDS_ANNOTATION))
        self.namespaces = split_list(annotations.get(NAMESPACES_ANNOTATION)) | {self.namespace}

    def body(self, group_kinds, namespaces):
        """The server-side apply body of the parent for these kinds and namespaces (all of them, parent's included)."""
        return {
            "apiVersion": "v1", "kind": self.kind,
            "metadata": {
                "name": self.name, "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {
                    TOOLING_ANNOTATION: self.tooling_value,
                    GROUP_KINDS_ANNOTATION: join_list(group_kinds),
                    NAMESPACES_ANNOTATION: join_list(set(namespaces) - {self.namespace}),
                },
            },
        }

    def up_to_date(self, group_kinds, namespaces):
        """True when the live parent already says exactly this (no write needed)."""
        if not self.exists:
            return False
        meta = (self.live or {}).get("metadata") or {}
        want = self.body(group_kinds, namespaces)["metadata"]
        annotations = meta.get("annotations") or {}
        return ((meta.get("labels") or {}).get(ID_LABEL) == self.id and GROUP_RESOURCES_ANNOTATION not in annotations
                and all(annotations.get(k) == v for k, v in want["annotations"].items()))
