# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""convert(): the tables are one-to-one, aws -> gcp -> aws gives the original back, unmappable values list the choices."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError
from ansible_collections.adhar.platform.plugins.module_utils._config import tables
from ansible_collections.adhar.platform.plugins.module_utils._config.convert import Unmappable, convert
from ansible_collections.adhar.platform.plugins.module_utils._config.loader import ConfigInvalid
from ansible_collections.adhar.platform.tests.unit.plugins.module_utils._config.helpers import REPO, base, data, errors, kv


@pytest.mark.parametrize("table", [tables.INSTANCE_TYPES, tables.REGIONS], ids=["instance types", "regions"])
def test_tables_are_one_to_one_and_round_trip(table):
    for provider in tables.CONVERTIBLE:
        values = tables.values_of(table, provider)
        assert len(values) == len(set(values)), provider
    there, back = tables.mapping(table, "aws", "gcp"), tables.mapping(table, "gcp", "aws")
    assert all(back[there[v]] == v for v in there)
    assert set(there.values()).isdisjoint(there)  # no value means something on both clouds


def test_instance_types_keep_cpu_and_memory():
    for row in tables.INSTANCE_TYPES:
        assert len(row) == 4 and row[2] >= 2 and row[3] >= 1
    assert tables.instance_type_provider("t3.xlarge") == "aws" and tables.instance_type_provider("e2-standard-4") == "gcp"
    assert tables.instance_type_provider("x1.32xlarge") is None


def test_aws_to_gcp():
    cfg = data("aws-production.yaml")
    out, changes, notes = convert(cfg, "gcp")
    gcp = out["providers"]["gcp"]
    assert list(out["providers"]) == ["gcp"] and gcp["type"] == "gcp" and gcp["region"] == "us-east4" and gcp["primary"] is True
    assert "profile" not in gcp
    assert gcp["config"] == {"subnet_cidr": "10.0.0.0/16", "instance_types": {"control_plane": "e2-standard-2", "worker": "e2-standard-4"}}
    assert out["environmentTemplates"]["prod-defaults"]["clusterConfig"] == [kv("nodeInstanceType", "n2-standard-4")]
    env = out["environments"]["production"]
    assert env["provider"] == "gcp" and env["region"] == "europe-west2"
    assert out["clusters"][0]["provider"] == "gcp" and "region" not in out["clusters"][0]
    assert out["clusters"][1]["region"] == "europe-west3" and out["globalSettings"]["productionProvider"] == "gcp"
    assert {"path": "providers.aws.region", "from": "us-east-1", "to": "us-east4"} in changes
    assert {"path": "clusters[1].region", "from": "eu-central-1", "to": "europe-west3"} in changes
    assert "removed providers.aws.profile (aws only)" in notes
    assert any("set config.project_id and config.zone" in n for n in notes)
    assert errors(out) == []
    assert cfg == data("aws-production.yaml")  # the input is not modified


def test_round_trip_gives_the_original_back():
    cfg = data("aws-production.yaml")
    del cfg["providers"]["aws"]["profile"]  # credentials of one cloud cannot survive a round trip
    there, dummy, dummy = convert(cfg, "gcp")
    back, dummy, dummy = convert(there, "aws")
    assert back == cfg


def test_gcp_to_aws_drops_gcp_only_settings():
    cfg = base()
    cfg["providers"] = {"main": {"type": "gcp", "region": "europe-west1", "primary": True, "projectId": "p",
                                 "config": {"project_id": "p", "zone": "europe-west1-b", "subnet_cidr": "10.1.0.0/16"}}}
    out, changes, notes = convert(cfg, "aws")
    # a provider not named after its type keeps its name
    assert out["providers"] == {"main": {"type": "aws", "region": "eu-west-1", "primary": True, "config": {"vpc_cidr": "10.1.0.0/16"}}}
    assert "removed providers.main.config.zone (gcp only)" in notes and "removed providers.main.projectId (gcp only)" in notes


def test_unmappable_values_list_the_choices():
    cfg = data("aws-production.yaml")
    cfg["providers"]["aws"]["region"] = "af-south-1"
    cfg["environmentTemplates"]["prod-defaults"]["clusterConfig"] = [kv("nodeInstanceType", "x1.32xlarge")]
    with pytest.raises(Unmappable) as info:
        convert(cfg, "gcp")
    found = {e["path"]: e["message"] for e in info.value.errors}
    assert found["providers.aws.region"] == ("region 'af-south-1' has no gcp equivalent; aws regions the table knows: "
                                             + ", ".join(tables.values_of(tables.REGIONS, "aws")))
    assert found["environmentTemplates.prod-defaults.clusterConfig[0].value"].startswith(
        "instance type 'x1.32xlarge' has no gcp equivalent; aws instance types the table knows: t3.micro, t3.small,")


def test_only_the_chosen_provider_and_name_clashes():
    cfg = data("aws-production.yaml")
    cfg["providers"]["gcp"] = {"type": "gcp", "region": "europe-west1"}
    with pytest.raises(Unmappable, match="cannot rename providers.aws to providers.gcp: that name is taken"):
        convert(cfg, "gcp")
    cfg["providers"]["aws2"] = cfg["providers"].pop("aws")
    for env in cfg["environments"].values():
        env["provider"] = "aws2"
    for cluster in cfg["clusters"]:
        cluster["provider"] = "aws2"
    cfg["globalSettings"]["productionProvider"] = "aws2"
    out, dummy, dummy = convert(cfg, "gcp", from_provider="aws2")
    assert out["providers"]["aws2"]["type"] == "gcp" and out["providers"]["gcp"] == {"type": "gcp", "region": "europe-west1"}


def test_argument_errors():
    cfg = data("aws-production.yaml")
    with pytest.raises(AdharError, match="to_provider: 'azure' cannot be converted to; supported: aws, gcp"):
        convert(cfg, "azure")
    with pytest.raises(AdharError, match="from_provider: unknown provider 'nope'; defined providers: aws"):
        convert(cfg, "gcp", from_provider="nope")
    with pytest.raises(AdharError, match="nothing to convert to aws: no provider of type gcp"):
        convert(cfg, "aws")
    with pytest.raises(AdharError, match="from_provider: providers.kind is of type kind"):
        convert(base(), "gcp", from_provider="kind")
    bad = copy.deepcopy(cfg)
    bad["clusters"].append({"name": "prod-eu", "role": "replica"})
    with pytest.raises(ConfigInvalid) as info:
        convert(bad, "gcp")
    assert not isinstance(info.value, Unmappable) and info.value.errors[0]["path"] == "clusters[2].name"


def test_docs_print_the_same_tables():
    with open(os.path.join(REPO, "docs", "config.md")) as f:
        doc = f.read()
    for row in tables.INSTANCE_TYPES:
        assert "| `%s` | `%s` | %d | %d |" % row in doc
    for aws, gcp, place, exact in tables.REGIONS:
        assert "| `%s` | `%s` | %s | %s |" % (aws, gcp, place, "same metro" if exact else "nearest") in doc
