# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cidr_overlaps
short_description: Tell whether IP networks overlap
version_added: 0.1.0
author:
  - adhar.platform contributors (@adhar-io)
description:
  - Returns the pairs of networks, from a list of CIDRs, that overlap; an empty list when none do.
  - Each list element is a CIDR string, or a dict with C(name) and C(cidr) so the result can say which owners clash.
  - An invalid CIDR is an error naming it.
positional: _input
options:
  _input:
    description: CIDR strings, or dicts with C(name) and C(cidr).
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse clusters whose pod networks overlap
  ansible.builtin.assert:
    that: (pod_cidrs | adhar.platform.cidr_overlaps) | length == 0
  vars:
    pod_cidrs:
      - {name: prod, cidr: 10.244.0.0/16}
      - {name: staging, cidr: 10.245.0.0/16}
"""

RETURN = r"""
_value:
  description: One C("<a> overlaps <b>") sentence per overlapping pair.
  type: list
  elements: str
"""

import ipaddress

from ansible.errors import AnsibleFilterError


def _network(item):
    name, cidr = (item.get("name"), item.get("cidr")) if isinstance(item, dict) else (None, item)
    try:
        net = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as e:
        raise AnsibleFilterError("cidr_overlaps: %r%s is not a valid network CIDR: %s"
                                 % (cidr, " (%s)" % name if name else "", e))
    label = "%s %s" % (name, net) if name else str(net)
    return label, net


def cidr_overlaps(items):
    nets = [_network(i) for i in items or []]
    out = []
    for i, (la, a) in enumerate(nets):
        for lb, b in nets[i + 1:]:
            if a.version == b.version and a.overlaps(b):
                out.append("%s overlaps %s" % (la, lb))
    return out


class FilterModule:
    def filters(self):
        return {"cidr_overlaps": cidr_overlaps}
