# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Shared text for the ``attributes`` of modules.  A fragment only supplies the
# descriptions: every module still declares each attribute with its own
# ``support`` (full, partial, none or N/A) and, where useful, ``details``.
# Ansible merges the module's keys over the fragment's.
#
#   extends_documentation_fragment:
#     - adhar.platform.attributes               # check_mode + diff_mode
#   attributes:
#     check_mode:
#       support: full
#     diff_mode:
#       support: partial
#       details: Only changed objects are diffed.
#
# ``adhar.platform.attributes.check_mode`` and ``.diff_mode`` give one
# description each; ``adhar.platform.attributes.info_module`` is complete
# (descriptions and support) for read-only ``*_info`` modules.

from __future__ import annotations


class ModuleDocFragment:

    # Both attributes every module has.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Whether the module can run with C(--check) and report what it would change without changing anything.
  diff_mode:
    description:
      - Whether the module reports the differences between the state before and after the task when run with C(--diff).
"""

    CHECK_MODE = r"""
options: {}
attributes:
  check_mode:
    description:
      - Whether the module can run with C(--check) and report what it would change without changing anything.
"""

    DIFF_MODE = r"""
options: {}
attributes:
  diff_mode:
    description:
      - Whether the module reports the differences between the state before and after the task when run with C(--diff).
"""

    # Read-only modules: nothing to declare in the module itself.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    description:
      - Whether the module can run with C(--check) and report what it would change without changing anything.
    support: full
    details:
      - This module only reads; it behaves the same with C(--check).
  diff_mode:
    description:
      - Whether the module reports the differences between the state before and after the task when run with C(--diff).
    support: N/A
    details:
      - This module only reads, so there is nothing to diff.
"""
