# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot programs (``psql``, ``etcdutl``, ``helm``, ``promtool`` ...) run to their end with their output captured.

Used where no ``AnsibleModule`` is at hand (the logic in module_utils gets parameters, not the module) and where
``run_command`` lacks what is needed: a time limit, bytes on stdin, running as another user, inherited descriptors.
Long-running supervised processes (servers) are started elsewhere (``local.procs``, ``local.supervisor``).

A program that cannot be started or does not finish in time is one ``AdharError`` naming it; an exit status other
than 0 is one too with ``check=True``, with the end of what the program said.
"""

from __future__ import annotations

import os
import subprocess

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

OUTPUT_TAIL = 800


def output_tail(text, limit=OUTPUT_TAIL):
    """The last ``limit`` characters of a program's output (text or bytes), stripped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (text or "").strip()[-limit:]


def run_once(argv, what=None, env=None, input=None, cwd=None, timeout=None, text=False, user=None, pass_fds=(),
             check=False, error=AdharError, runner=subprocess.run, **details):
    """Run ``argv`` to its end; its ``subprocess.CompletedProcess`` (stdout and stderr captured).

    ``what`` names the program in errors (default: the program's file name).  ``input`` is written to its stdin
    (text with ``text=True``, else bytes); without it stdin is ``/dev/null``.  ``timeout`` is in seconds.
    ``user`` is ``(uid, gid)`` to run as (the supplementary groups dropped).  ``pass_fds`` are descriptors the
    program inherits.  ``error`` is the ``AdharError`` class raised, with ``details`` as its extra fields;
    ``runner`` is ``subprocess.run`` or a stand-in with its signature (tests).
    """
    argv = [str(a) for a in argv]
    what = what or os.path.basename(argv[0])
    extra = {}
    if user is not None:
        extra.update(user=user[0], group=user[1], extra_groups=[])
    if pass_fds:
        extra["pass_fds"] = tuple(pass_fds)
    if input is None:
        extra["stdin"] = subprocess.DEVNULL
    try:
        proc = runner(argv, env=env, input=input, cwd=cwd, capture_output=True, text=text, timeout=timeout,
                      check=False, **extra)
    except subprocess.TimeoutExpired:
        raise error("%s did not finish in %g s" % (what, timeout), **details) from None
    except OSError as exc:
        raise error("cannot run %s (%s): %s" % (what, argv[0], exc.strerror or exc), **details) from None
    if check and proc.returncode != 0:
        raise error("%s failed (exit %d): %s" % (what, proc.returncode, output_tail(proc.stderr or proc.stdout)),
                    rc=proc.returncode, **details)
    return proc
