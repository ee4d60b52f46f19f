# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors workers_arg_spec() (plugins/module_utils/_common/args.py)
# (tests/unit/plugins/module_utils/test_args_common.py checks it).  Use as adhar.platform.workers; each module gives
# the option its own description (what runs at the same time) and default, and takes the type from here.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  workers:
    description:
      - Operations of the task run at the same time, from 1 to 256.
    type: int
"""
