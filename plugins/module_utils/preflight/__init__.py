# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-deployment checklist of the adhar Advanced Topics guide, judged on a live cluster (``preflight``).

    flags.py    control-plane command lines: where they are read from, and the flag rules (in the spirit of the
                CIS Kubernetes benchmark)
    checks.py   one function per checklist item: what it reads, what that showed, and the verdict
    run.py      options, the order of the items, the table, ``strict``
"""
