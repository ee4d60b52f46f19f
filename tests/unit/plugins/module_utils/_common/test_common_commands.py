# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.adhar.platform.plugins.module_utils._common.commands import output_tail, run_once
from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError


def _py(code):
    return [sys.executable, "-c", code]


def test_output_is_captured_as_bytes_or_text():
    proc = run_once(_py("import sys; sys.stdout.write('out'); sys.stderr.write('err')"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"out", b"err")
    proc = run_once(_py("print('héllo')"), text=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert proc.stdout == "héllo\n"


def test_input_env_and_cwd(tmp_path):
    proc = run_once(_py("import os, sys; sys.stdout.write(sys.stdin.read().upper() + os.environ['X'] + os.getcwd())"),
                    input=b"abc", env={"X": "-x-"}, cwd=str(tmp_path))
    assert proc.stdout.decode() == "ABC-x-" + str(tmp_path)


def test_stdin_is_empty_without_input():
    proc = run_once(_py("import sys; print(repr(sys.stdin.read()))"), text=True)
    assert proc.stdout.strip() == "''"


def test_arguments_are_strings():
    proc = run_once(_py("import sys; print(sys.argv[1:])") + [5, 2.5], text=True)
    assert proc.stdout.strip() == "['5', '2.5']"


def test_exit_status_is_returned_or_raised():
    proc = run_once(_py("import sys; sys.stderr.write('boom\\n'); sys.exit(3)"))
    assert proc.returncode == 3
    with pytest.raises(AdharError) as info:
        run_once(_py("import sys; sys.stderr.write('x' * 2000 + 'boom\\n'); sys.exit(3)"), what="the tool", check=True)
    assert info.value.msg.startswith("the tool failed (exit 3): x")
    assert info.value.msg.endswith("boom") and len(info.value.msg) < 900  # the end of what it said
    assert info.value.details["rc"] == 3


def test_stdout_is_the_message_when_stderr_is_empty():
    with pytest.raises(AdharError, match=r"failed \(exit 1\): said on stdout"):
        run_once(_py("import sys; print('said on stdout'); sys.exit(1)"), check=True)


def test_timeout_names_the_program():
    with pytest.raises(AdharError, match=r"^sleeper did not finish in 0.5 s$"):
        run_once(_py("import time; time.sleep(30)"), what="sleeper", timeout=0.5)


def test_missing_program_is_one_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-tool")
    with pytest.raises(AdharError, match=r"cannot run no-such-tool \(%s\): No such file or directory" % missing):
        run_once([missing, "--version"])


def test_error_class_details_and_runner_stand_in():
    class ToolError(AdharError):
        pass

    seen = {}

    def runner(argv, **kwargs):
        seen.update(kwargs, argv=argv)
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    with pytest.raises(ToolError) as info:
        run_once(["tool", "x"], what="tool x", timeout=7, pass_fds=[5], runner=runner, error=ToolError, command="tool x")
    assert info.value.msg == "tool x did not finish in 7 s" and info.value.details == {"command": "tool x"}
    assert seen["pass_fds"] == (5,) and seen["capture_output"] is True and seen["check"] is False


def test_user_is_passed_as_uid_gid_without_extra_groups():
    seen = {}

    def runner(argv, **kwargs):
        seen.update(kwargs)
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    run_once(["tool"], user=(1000, 1001), runner=runner)
    assert (seen["user"], seen["group"], seen["extra_groups"]) == (1000, 1001, [])


def test_output_tail():
    assert output_tail(b"  a\xffb \n") == "a\ufffdb"
    assert output_tail("x" * 10, limit=3) == "xxx"
    assert output_tail(None) == ""
