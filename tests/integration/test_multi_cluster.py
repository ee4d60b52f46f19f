# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many clusters from one inventory: one host per cluster, created in parallel (forks), each with its own ports."""

from __future__ import annotations

import json
import os

INVENTORY = """
all:
  vars:
    ansible_connection: local
  hosts:
    east:
      adhar_cluster_id: 11
    west:
      adhar_cluster_id: 12
"""

PLAYBOOK = """
- name: One local cluster per inventory host, in parallel
  hosts: all
  gather_facts: false
  module_defaults:
    group/adhar.platform.local:
      state_dir: "{{ lookup('ansible.builtin.env', 'ADHAR_STATE_DIR') }}"
  tasks:
    - name: Cluster
      adhar.platform.cluster:
        name: "mc-{{ inventory_hostname }}"
        cluster_id: "{{ adhar_cluster_id }}"
        nodes:
          count: 2
        state: "{{ adhar_state | default('present') }}"
    - name: Health
      adhar.platform.cluster_info:
        name: "mc-{{ inventory_hostname }}"
        probes: 5
      when: adhar_state | default('present') != 'absent'
"""


def test_clusters_in_parallel_from_one_inventory(runner, state_dir):
    results, dummy = runner.playbook(PLAYBOOK, INVENTORY, forks=2)
    clusters = [r for r in results if r["task"] == "Cluster"]
    health = [r for r in results if r["task"] == "Health"]
    assert len(clusters) == 2 and all(r["status"] == "ok" and r["result"]["changed"] for r in clusters)
    assert len(health) == 2 and all(r["result"]["healthy"] for r in health), [r["result"]["reasons"] for r in health]
    ports = []
    for name in ("mc-east", "mc-west"):
        with open(os.path.join(state_dir, name, "cluster.json")) as f:
            data = json.load(f)
        p = data["ports"]
        ports += [p["kwok"]] + [v for m in p["members"] for v in m.values()]
        assert data["spec"]["cluster_id"] in (11, 12)
    assert len(ports) == len(set(ports))
    results, dummy = runner.playbook(PLAYBOOK, INVENTORY, forks=2)
    assert all(not r["result"]["changed"] for r in results if r["task"] == "Cluster")
    runner.playbook(PLAYBOOK.replace("default('present')", "default('absent')"), INVENTORY, forks=2)
    assert not os.path.exists(os.path.join(state_dir, "mc-east")) and not os.path.exists(os.path.join(state_dir, "mc-west"))
