# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors RETENTION_ARG_SPEC (plugins/module_utils/_common/args.py) option for option
# (tests/unit/plugins/module_utils/test_args_common.py checks it).  Used as adhar.platform.retention by the modules
# that write archives; a module documents what its O(retention) applies to in its own description of the option.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  retention:
    description:
      - Applied after an archive is written, to the complete archives of the same O(cluster) in the same storage. The
        newest complete archive is never deleted; incomplete ones are deleted once they are older than 24 hours.
    type: dict
    suboptions:
      keep_last:
        description:
          - Keep at most this many complete archives (at least 1).
        type: int
      max_age:
        description:
          - Delete complete archives older than this; an integer is days, or a string like V(30d), V(72h), V(90m),
            V(4w) (a string of digits alone is days too).
        type: raw
"""
