# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper callback: appends every task result as one JSON line to $ADHAR_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: adhar_results
type: aggregate
short_description: Write task results as JSON lines for the integration tests
description:
  - Appends one JSON object per task result to the file named by the environment variable C(ADHAR_RESULTS_FILE).
requirements:
  - enabled with C(ANSIBLE_CALLBACKS_ENABLED=adhar_results)
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "adhar_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status):
        path = os.environ.get("ADHAR_RESULTS_FILE")
        if not path:
            return
        res = dict(result._result)
        res.pop("invocation", None)
        with open(path, "a") as f:
            f.write(json.dumps({"task": result._task.get_name(), "host": result._host.get_name(), "status": status,
                                "result": res}, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")
