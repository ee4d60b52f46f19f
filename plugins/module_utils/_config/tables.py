# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider equivalence tables used by ``convert`` (and by the validator's mismatch hints).

Each table is a list of pairs, one value per provider, and must stay one-to-one
so that a conversion there and back gives the original value (a unit test
checks it).  docs/config.md prints the same tables.

Instance types: same vCPU count and memory, same family character
(burstable / general purpose / compute / memory optimised).
Regions: the same metro area, or the nearest one where the other cloud has no
region there (marked "nearest" in the docs).
"""

from __future__ import annotations

# (aws instance type, gcp machine type, vCPU, memory GiB)
INSTANCE_TYPES = (
    ("t3.micro", "e2-micro", 2, 1),
    ("t3.small", "e2-small", 2, 2),
    ("t3.medium", "e2-medium", 2, 4),
    ("t3.large", "e2-standard-2", 2, 8),
    ("t3.xlarge", "e2-standard-4", 4, 16),
    ("t3.2xlarge", "e2-standard-8", 8, 32),
    ("m5.large", "n2-standard-2", 2, 8),
    ("m5.xlarge", "n2-standard-4", 4, 16),
    ("m5.2xlarge", "n2-standard-8", 8, 32),
    ("m5.4xlarge", "n2-standard-16", 16, 64),
    ("c5.xlarge", "c3-highcpu-4", 4, 8),
    ("c5.2xlarge", "c3-highcpu-8", 8, 16),
    ("r5.large", "n2-highmem-2", 2, 16),
    ("r5.xlarge", "n2-highmem-4", 4, 32),
    ("r5.2xlarge", "n2-highmem-8", 8, 64),
)

# (aws region, gcp region, place, exact) -- exact False: nearest region, not the same city
REGIONS = (
    ("us-east-1", "us-east4", "N. Virginia", True),
    ("us-east-2", "us-east5", "Ohio", True),
    ("us-west-1", "us-west2", "N. California / Los Angeles", False),
    ("us-west-2", "us-west1", "Oregon", True),
    ("ca-central-1", "northamerica-northeast1", "Montreal", True),
    ("sa-east-1", "southamerica-east1", "Sao Paulo", True),
    ("eu-west-1", "europe-west1", "Ireland / Belgium", False),
    ("eu-west-2", "europe-west2", "London", True),
    ("eu-west-3", "europe-west9", "Paris", True),
    ("eu-central-1", "europe-west3", "Frankfurt", True),
    ("eu-south-1", "europe-west8", "Milan", True),
    ("eu-north-1", "europe-north1", "Stockholm / Finland", False),
    ("ap-south-1", "asia-south1", "Mumbai", True),
    ("ap-east-1", "asia-east2", "Hong Kong", True),
    ("ap-southeast-1", "asia-southeast1", "Singapore", True),
    ("ap-southeast-2", "australia-southeast1", "Sydney", True),
    ("ap-northeast-1", "asia-northeast1", "Tokyo", True),
    ("ap-northeast-2", "asia-northeast3", "Seoul", True),
    ("ap-northeast-3", "asia-northeast2", "Osaka", True),
)

# Column of each provider in the tables above.
COLUMNS = {"aws": 0, "gcp": 1}
CONVERTIBLE = tuple(COLUMNS)


def mapping(table, source, target):
    """``{source value: target value}`` for two providers of ``table``."""
    s, t = COLUMNS[source], COLUMNS[target]
    return {row[s]: row[t] for row in table}


def values_of(table, provider):
    return [row[COLUMNS[provider]] for row in table]


def instance_type_provider(value):
    """The provider whose instance/machine type ``value`` is, per the table, else ``None``."""
    for provider, col in COLUMNS.items():
        if any(row[col] == value for row in INSTANCE_TYPES):
            return provider
    return None
