# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint the collection's documentation and build its HTML documentation site.

    python tools/docs_site.py DEST [--collection-path PATH] [--no-lint] [--no-build]

Runs, with the programs of the current environment (``make docs-site`` uses .venv):

1. ``antsibull-docs lint-collection-docs --plugin-docs`` on the collection (every module's and plugin's
   DOCUMENTATION / EXAMPLES / RETURN, every role's ``meta/argument_specs.yml``, references to this collection and
   to ansible.builtin); any finding fails.
2. ``antsibull-docs sphinx-init`` into DEST (the Sphinx project antsibull-docs documents), then what its build.sh
   runs: ``antsibull-docs collection`` writes one reStructuredText page per module, plugin and role, and
   ``sphinx-build`` turns them into HTML under DEST/build/html.

Sphinx warnings fail the build, with one exception: when the intersphinx inventories of docs.ansible.com and
docs.python.org cannot be fetched (no network), references to labels that only those sites define
(``common_return_values``, ``ansible_collections.ansible.builtin.*``, ...) cannot be resolved; they are counted and
listed, not failed.  A reference to this collection's own pages that does not resolve always fails.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

COLLECTION = "adhar.platform"
OWN_LABEL_PREFIX = "ansible_collections.adhar.platform."
UNDEFINED_LABEL = re.compile(r"WARNING: undefined label: '([^']+)'")
UNREACHABLE_INVENTORY = "failed to reach any of the inventories"


def progress(msg):
    print("[docs-site] %s" % msg, flush=True)


def run(cmd, cwd=None, capture=False):
    """Run ``cmd``; return its combined output when ``capture``; exit with its code when it fails."""
    progress("$ " + " ".join(cmd))
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, check=False, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None)
    progress("  %.1f s" % (time.monotonic() - start))
    if proc.returncode != 0:
        if capture:
            sys.stdout.write(proc.stdout)
        sys.exit("docs-site: %s failed with exit code %d" % (cmd[0], proc.returncode))
    return proc.stdout if capture else ""


def classify_warnings(text):
    """Split Sphinx warnings into ``(errors, external)``.

    ``external`` are the undefined labels of other sites' documentation, allowed only when an intersphinx inventory
    could not be fetched; everything else, including undefined labels of this collection, is an error.
    """
    offline = UNREACHABLE_INVENTORY in text
    errors, external = [], []
    for line in text.splitlines():
        if "WARNING" not in line and "ERROR" not in line:
            continue
        if UNREACHABLE_INVENTORY in line:
            continue
        match = UNDEFINED_LABEL.search(line)
        if match and offline and not match.group(1).startswith(OWN_LABEL_PREFIX):
            external.append(match.group(1))
            continue
        errors.append(line)
    return errors, external


def lint(collection_path):
    run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--validate-collection-refs", "dependent",
         "--disallow-unknown-collection-refs", "--check-extra-docs-refs", collection_path])
    progress("lint-collection-docs: clean")


def build(dest):
    os.makedirs(dest, mode=0o700, exist_ok=True)
    os.chmod(dest, 0o700)  # sphinx-init refuses a directory others can write to
    run(["antsibull-docs", "sphinx-init", "--use-current", "--fail-on-error", "--squash-hierarchy",
         "--project", COLLECTION, "--copyright", "adhar.platform contributors",
         "--title", "adhar.platform collection documentation", "--html-short-title", COLLECTION,
         "--dest-dir", dest, COLLECTION], capture=True)
    rst = os.path.join(dest, "rst")
    os.makedirs(rst, exist_ok=True)
    os.chmod(rst, 0o755)
    # The two commands of the generated build.sh; sphinx-build without -W so that the warnings can be sorted.
    run(["antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything",
         "--fail-on-error", "--use-current", "--squash-hierarchy", "--dest-dir", "rst", COLLECTION], cwd=dest)
    warnings_file = os.path.join(dest, "sphinx-warnings.txt")
    html = os.path.join(dest, "build", "html")
    shutil.rmtree(html, ignore_errors=True)
    run(["sphinx-build", "-M", "html", "rst", "build", "-c", ".", "--keep-going", "-q", "-w", warnings_file],
        cwd=dest, capture=True)
    with open(warnings_file, encoding="utf-8") as handle:
        text = handle.read()
    errors, external = classify_warnings(text)
    pages = sorted(name[:-5] for name in os.listdir(html) if name.endswith(".html") and name not in ("genindex.html", "search.html"))
    print("\n| pages | Sphinx warnings | external references not checked offline |")
    print("| --- | --- | --- |")
    print("| %d | %d | %d |" % (len(pages), len(errors), len(external)))
    if external:
        progress("labels of docs.ansible.com / docs.python.org not resolvable offline: %s" % ", ".join(sorted(set(external))))
    if errors:
        sys.stdout.write("\n".join(errors) + "\n")
        sys.exit("docs-site: Sphinx reported %d problem(s) (listed above; all in %s)" % (len(errors), warnings_file))
    progress("HTML documentation: %s" % os.path.join(html, "index.html"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="directory of the Sphinx project and its build (outside the repository)")
    parser.add_argument("--collection-path", help="the collection's directory under an ansible_collections tree (for the lint)")
    parser.add_argument("--no-lint", action="store_true", help="skip antsibull-docs lint-collection-docs")
    parser.add_argument("--no-build", action="store_true", help="skip the HTML build")
    args = parser.parse_args(argv)
    if not args.no_lint:
        lint(args.collection_path or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not args.no_build:
        build(os.path.abspath(args.dest))


if __name__ == "__main__":
    main()
