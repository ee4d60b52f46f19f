# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors wait_arg_spec(wait=...) and TIMEOUT mirrors wait_arg_spec() (plugins/module_utils/_common/args.py)
# (tests/unit/plugins/module_utils/test_args_common.py checks it).  Use as adhar.platform.wait or
# adhar.platform.wait.timeout; each module gives the options its own description (what is waited for) and default,
# and takes the types from here.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until what the task changed is ready.
    type: bool
  wait_timeout:
    description:
      - Seconds to wait, a number greater than 0 (fractions allowed).
    type: float
"""

    TIMEOUT = r"""
options:
  wait_timeout:
    description:
      - Seconds to wait, a number greater than 0 (fractions allowed).
    type: float
"""
