# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.adhar.platform.plugins.filter.cidr_overlaps import FilterModule, cidr_overlaps


def test_disjoint_and_overlapping():
    assert cidr_overlaps(["10.244.0.0/16", "10.96.0.0/16"]) == []
    assert cidr_overlaps(["10.0.0.0/8", "10.96.0.0/16"]) == ["10.0.0.0/8 overlaps 10.96.0.0/16"]
    named = [{"name": "prod", "cidr": "10.244.0.0/16"}, {"name": "staging", "cidr": "10.244.128.0/17"},
             {"name": "dev", "cidr": "10.245.0.0/16"}]
    assert cidr_overlaps(named) == ["prod 10.244.0.0/16 overlaps staging 10.244.128.0/17"]
    assert cidr_overlaps(["10.0.0.0/8", "fd00::/8"]) == []
    assert cidr_overlaps([]) == [] and cidr_overlaps(None) == []


def test_invalid_cidr_names_its_owner():
    with pytest.raises(AnsibleFilterError, match=r"'10.0.0.1/8' \(prod\) is not a valid network CIDR"):
        cidr_overlaps([{"name": "prod", "cidr": "10.0.0.1/8"}])


def test_registered():
    assert FilterModule().filters()["cidr_overlaps"] is cidr_overlaps
