# Makefile for adhar.platform -- every target is idempotent and safe to re-run.
#
#   make demo   set everything up, deploy inventories/local/adhar.yml (playbooks/deploy.yml), mesh its clusters and
#               give its demo application a global DNS name (playbooks/network.yml)
#   make test   set everything up and run sanity, lint, docs-site, unit and integration
#   make help   list all targets
#
# Outside the repository, only these are written: ADHAR_WORK (scratch copies,
# the collections tree), the toolchain cache (tools/toolchain), ansible-test's
# own cache ~/.ansible/test (sanity venvs), and system packages (apt).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Stages must run in the order given, also when -j is passed.
.NOTPARALLEL:

REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
endif
ADHAR_WORK ?= $(HOME)/.cache/adhar/work
# Same default as plugins/module_utils/_common/toolchain.py (not exported: tools/toolchain
# sees ADHAR_CACHE_DIR only if the user set it).
ADHAR_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/adhar

VENV := $(REPO)/.venv
STAMP := $(VENV)/.installed
LOCK := $(REPO)/constraints.txt
COLLECTIONS := $(ADHAR_WORK)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/adhar/platform
SANITY_ROOT := $(ADHAR_WORK)/sanity
SANITY_DIR := $(SANITY_ROOT)/ansible_collections/adhar/platform

# System packages installed by `make system-deps` (Debian/Ubuntu names): the platform:dpkg entries of bindep.txt
# (what the modules run; an execution environment gets these) and bindep-dev.txt (development and test machines).
SYSTEM_PACKAGES ?= $(shell awk '/platform:dpkg/ && !/^[[:space:]]*\#/ {print $$1}' '$(REPO)/bindep.txt' '$(REPO)/bindep-dev.txt')

# Extra arguments, e.g. `make unit PYTEST_ARGS='-k archive -x'`.
PYTEST_ARGS ?=
# Only some integration tests: `make integration TESTS='tests/integration/test_apply.py' PYTEST_ARGS='-k rerun'`.
TESTS ?= tests/integration
# The slowest integration tests are listed after the run, so a growing suite shows where its time goes.
INTEGRATION_ARGS ?= --durations=25
INTEGRATION_WORKERS ?= 2
SANITY_ARGS ?=
LINT_ARGS ?=
DEMO_ARGS ?=
INVENTORY ?= inventories/local/adhar.yml

# Environment of every test/demo command.  ADHAR_BIN_DIR is not set here: if
# the user exported it, it reaches the commands unchanged; otherwise the
# modules use the toolchain cache filled by `make toolchain`.
RUN_ENV := PATH="$(VENV)/bin:$$PATH" \
	VIRTUAL_ENV="$(VENV)" \
	ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)" \
	ANSIBLE_PYTHON_INTERPRETER="$(VENV)/bin/python" \
	PYTHONPATH="$(COLLECTIONS)$${PYTHONPATH:+:$$PYTHONPATH}"
# ansible-test works on its own copy: only the venv on PATH.
SANITY_ENV := PATH="$(VENV)/bin:$$PATH" VIRTUAL_ENV="$(VENV)"

# $(call stage,NAME,WHAT): a banner that shows which stage runs.
stage = printf '\n==> [%s] %s\n' '$(1)' '$(2)'

.PHONY: help venv system-deps toolchain collection unit integration sanity sanity-matrix sanity-one lint docs-site test demo health destroy clean lock

help: ## list the targets
	@printf 'adhar.platform make targets:\n\n'
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf '\nVariables: PYTHON=%s ADHAR_WORK=%s SYSTEM_PACKAGES="%s"\n' '$(PYTHON)' '$(ADHAR_WORK)' '$(SYSTEM_PACKAGES)'

# ---------------------------------------------------------------- environment

venv: $(STAMP) ## create/refresh .venv (Python 3.11) from constraints.txt

$(STAMP): $(LOCK) $(REPO)/requirements-dev.in $(REPO)/requirements.txt
	@$(call stage,venv,$(VENV) from constraints.txt)
	@test -n '$(PYTHON)' || { echo 'python3.11 not found (set PYTHON=/path/to/python3.11)' >&2; exit 1; }
	@'$(PYTHON)' -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo '$(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)' >&2; exit 1; }
	@if [ -x '$(VENV)/bin/python' ] && ! '$(VENV)/bin/python' -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
		echo 'existing .venv is not a working Python 3.11 venv: recreating it'; rm -rf '$(VENV)'; fi
	@[ -x '$(VENV)/bin/python' ] || '$(PYTHON)' -m venv '$(VENV)'
	'$(VENV)/bin/python' -m pip install --quiet --disable-pip-version-check -c '$(LOCK)' pip
	'$(VENV)/bin/python' -m pip install --quiet --disable-pip-version-check -r '$(REPO)/requirements-dev.in' -c '$(LOCK)'
	@touch '$@'

system-deps: ## install missing system packages (apt; sudo only when not root)
	@$(call stage,system-deps,$(SYSTEM_PACKAGES))
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
		for p in $(SYSTEM_PACKAGES); do \
			dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
		done; \
	else \
		for p in $(SYSTEM_PACKAGES); do command -v "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then echo "not a Debian/Ubuntu system: install$$missing yourself" >&2; exit 1; fi; \
	fi; \
	if [ -z "$$missing" ]; then echo "already installed: $(SYSTEM_PACKAGES)"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	export DEBIAN_FRONTEND=noninteractive; \
	echo "installing:$$missing"; \
	$$sudo apt-get install -y --no-install-recommends $$missing \
		|| { echo 'retrying after apt-get update'; $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends $$missing; }

toolchain: ## make the pinned Kubernetes/etcd/kwok/helm binaries, the add-ons and the upstream Helm charts available
	@$(call stage,toolchain,tools/toolchain ensure)
	@mkdir -p '$(ADHAR_CACHE_DIR)'
	@# tools/toolchain.py takes a lock in the cache: a second caller waits instead of building twice.
	'$(PYTHON)' '$(REPO)/tools/toolchain.py' ensure

collection: ## symlink the repo as adhar.platform under ADHAR_WORK/collections
	@$(call stage,collection,$(COLLECTION_LINK) -> $(REPO))
	@mkdir -p '$(dir $(COLLECTION_LINK))'
	@if [ -e '$(COLLECTION_LINK)' ] && [ ! -L '$(COLLECTION_LINK)' ]; then \
		echo '$(COLLECTION_LINK) exists and is not a symlink: remove it first' >&2; exit 1; fi
	@ln -sfn '$(REPO)' '$(COLLECTION_LINK)'
	@echo 'ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS)'

# ---------------------------------------------------------------- tests

# pytest exits 5 when it collected no tests; a stage without tests yet is
# reported, not failed.
define run_pytest
	for t in $(1); do if [ ! -e '$(REPO)/'"$${t%%::*}" ]; then echo "$$t does not exist: nothing to run"; exit 0; fi; done; \
	rc=0; cd '$(REPO)' && $(RUN_ENV) python -m pytest $(1) $(2) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo 'no tests collected in $(1)'; exit 0; fi; exit $$rc
endef

# Unit tests of controller-side plugins (action, filter, inventory) import ansible's controller code, which
# changes how module code behaves in the same process (warnings go to the display instead of the result);
# so module-side and controller-side unit tests run in two separate pytest processes.
CONTROLLER_UNIT_DIRS := tests/unit/plugins/action tests/unit/plugins/filter tests/unit/plugins/inventory

unit: venv collection ## pytest tests/unit (module side, then controller-side plugins in a second process)
	@$(call stage,unit,$(strip pytest tests/unit $(PYTEST_ARGS)))
	@$(call run_pytest,tests/unit,$(foreach d,$(CONTROLLER_UNIT_DIRS),--ignore=$(d)) $(PYTEST_ARGS))
	@dirs=''; for d in $(CONTROLLER_UNIT_DIRS); do [ -d '$(REPO)/'$$d ] && dirs="$$dirs $$d"; done; \
	if [ -n "$$dirs" ]; then cd '$(REPO)' && $(RUN_ENV) python -m pytest $$dirs $(PYTEST_ARGS); fi

# Test files run in INTEGRATION_WORKERS parallel pytest-xdist workers, each file whole on one worker (its
# module-scoped clusters are shared by its tests); files marked `serial` (they measure behaviour under load)
# run afterwards on their own.
integration: venv system-deps toolchain collection ## pytest tests/integration (real local clusters)
	@$(call stage,integration,$(strip pytest $(TESTS) -n $(INTEGRATION_WORKERS) $(PYTEST_ARGS) $(INTEGRATION_ARGS); then the serial tests))
	@$(call run_pytest,$(TESTS),-m 'not serial' -n $(INTEGRATION_WORKERS) --dist loadfile $(PYTEST_ARGS) $(INTEGRATION_ARGS))
	@$(call run_pytest,$(TESTS),-m serial $(PYTEST_ARGS) $(INTEGRATION_ARGS))

# ansible-test bootstraps pip into every venv it creates with a script it
# downloads from its own CI file server, which is not reachable from every
# machine (PyPI is).  If that script is not cached yet, cache this stand-in
# under the name ansible-test looks for: it takes the same arguments and
# installs the requested pip from PyPI via ensurepip.  A real cached script
# is never overwritten.
define GET_PIP_STANDIN
# adhar.platform stand-in for the ansible-test pip bootstrap script (see Makefile).
import subprocess
import sys

flags = sys.argv[1:]
args = [a for a in flags if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args)
for flag, package in (('--no-setuptools', 'setuptools'), ('--no-wheel', 'wheel')):
    if flag in flags:
        subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes', package], stderr=subprocess.DEVNULL)
endef
export GET_PIP_STANDIN

# $(call sanity_tree,ROOT,PYTHON): a fresh copy of the tracked + untracked-not-ignored files under
# ROOT/ansible_collections/adhar/platform, and the pip bootstrap stand-in for the ansible-test of PYTHON.
define sanity_tree
	@rm -rf '$(1)' && mkdir -p '$(1)/ansible_collections/adhar/platform'
	@cd '$(REPO)' && git ls-files -z -co --exclude-standard \
		| while IFS= read -r -d '' f; do [ -f "$$f" ] && printf '%s\0' "$$f"; done \
		| tar --null -T - -cf - | tar -xf - -C '$(1)/ansible_collections/adhar/platform'
	@pipv="$$('$(2)' -c 'import types, ansible_test._internal.python_requirements as r; print(r.get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')"; \
	f="$(HOME)/.ansible/test/cache/get_pip_$${pipv//./_}.py"; \
	if [ ! -s "$$f" ]; then mkdir -p "$$(dirname "$$f")"; printf '%s\n' "$$GET_PIP_STANDIN" > "$$f"; echo "cached pip bootstrap stand-in: $$f"; fi
endef

sanity: venv ## ansible-test sanity on a copy of the tracked + untracked-not-ignored files, then antsibull-changelog lint
	@$(call stage,sanity,ansible-test sanity --python 3.11 in $(SANITY_DIR))
	$(call sanity_tree,$(SANITY_ROOT),$(VENV)/bin/python)
	cd '$(SANITY_DIR)' && $(SANITY_ENV) ansible-test sanity --python 3.11 --local --color no $(SANITY_ARGS)
	@# every changelog fragment (and changelogs/config.yaml) as antsibull-changelog reads them at release time
	cd '$(REPO)' && $(SANITY_ENV) antsibull-changelog lint

# The older ansible-core releases meta/runtime.yml claims (requires_ansible), newest patch of each, exact pins;
# make sanity covers the release of constraints.txt.  Each gets its own venv under ADHAR_WORK (only ansible-core and
# what it needs: ansible-test installs its own pinned tools for each sanity test).  Every module_utils package has an
# empty __init__.py (their empty-init test), so requires_ansible starts at 2.16.  One run took 6 to 11 minutes of wall
# time here (2 shared cores): too long for make test, which runs make sanity (2.19) only.
SANITY_MATRIX ?= 2.16.19 2.17.14 2.18.19

sanity-matrix: ## ansible-test sanity with each ansible-core of SANITY_MATRIX (own venvs under ADHAR_WORK); a table of the results
	@$(call stage,sanity-matrix,ansible-test sanity --python 3.11 with ansible-core $(SANITY_MATRIX))
	@rm -f '$(ADHAR_WORK)/sanity-matrix.txt'
	@for v in $(SANITY_MATRIX); do \
		venv='$(ADHAR_WORK)/ansible-core-'$$v; root='$(ADHAR_WORK)/sanity-'$$v; start=$$(date +%s); \
		printf '\n==> [sanity-matrix] ansible-core %s\n' $$v; \
		if ! "$$venv/bin/python" -c "import ansible.release as r, sys; sys.exit(r.__version__ != '$$v')" 2>/dev/null; then \
			rm -rf "$$venv" && '$(PYTHON)' -m venv "$$venv" \
			&& "$$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ansible-core==$$v" || exit 1; \
		fi; \
		$(MAKE) --no-print-directory sanity-one SANITY_ONE_VENV="$$venv" SANITY_ONE_ROOT="$$root" && rc=0 || rc=$$?; \
		printf '| %s | %s | %s s |\n' $$v "$$([ $$rc -eq 0 ] && echo passed || echo FAILED)" $$(( $$(date +%s) - start )) >> '$(ADHAR_WORK)/sanity-matrix.txt'; \
	done; \
	printf '\n| ansible-core | sanity | wall time |\n| --- | --- | --- |\n'; cat '$(ADHAR_WORK)/sanity-matrix.txt'; \
	! grep -q FAILED '$(ADHAR_WORK)/sanity-matrix.txt'

# One run of sanity-matrix (not listed in help): ansible-test of SANITY_ONE_VENV on a fresh copy under SANITY_ONE_ROOT.
sanity-one:
	$(call sanity_tree,$(SANITY_ONE_ROOT),$(SANITY_ONE_VENV)/bin/python)
	cd '$(SANITY_ONE_ROOT)/ansible_collections/adhar/platform' && PATH="$(SANITY_ONE_VENV)/bin:$$PATH" VIRTUAL_ENV="$(SANITY_ONE_VENV)" \
		ansible-test sanity --python 3.11 --local --color no $(SANITY_ARGS)

lint: venv collection ## ansible-lint with the production profile (.ansible-lint)
	@$(call stage,lint,ansible-lint --profile production)
	@# its own HOME: a copy of the collection that Molecule or ansible-galaxy left in ~/.ansible/collections would
	@# otherwise be linted against instead of this tree
	@rm -rf '$(ADHAR_WORK)/lint-home' && mkdir -p '$(ADHAR_WORK)/lint-home'
	cd '$(REPO)' && HOME='$(ADHAR_WORK)/lint-home' $(RUN_ENV) ansible-lint --offline $(if $(CI),--nocolor) $(LINT_ARGS)

# antsibull-docs lints every module's, plugin's and role's documentation, then builds the HTML site (Sphinx, the
# Ansible theme) under ADHAR_WORK/docs-site; tools/docs_site.py says what it allows offline.
DOCS_SITE := $(ADHAR_WORK)/docs-site

docs-site: venv collection ## lint the collection's documentation (antsibull-docs) and build its HTML site under ADHAR_WORK/docs-site
	@$(call stage,docs-site,antsibull-docs lint-collection-docs; sphinx-build into $(DOCS_SITE)/build/html)
	cd '$(REPO)' && $(RUN_ENV) python tools/docs_site.py '$(DOCS_SITE)' --collection-path '$(COLLECTION_LINK)'

# Prerequisites run once each, left to right (.NOTPARALLEL): set-up, then the
# static checks (fail fast), then pytest, whose summary line ends the output.
# The toolchain builds in the background while sanity, lint and docs-site run (they do not need it): on a cold
# machine its Go builds and those Python checks share the cores instead of taking turns.  Its output goes to
# TOOLCHAIN_LOG and is printed when it is waited for, before unit (whose etcd tests run the binaries) and integration.
# When a check fails, make stops at once and the build goes on (the next caller waits for its lock).
TOOLCHAIN_LOG := $(ADHAR_WORK)/toolchain.log

test: venv system-deps ## everything: venv, system-deps, then the toolchain (in the background) beside sanity, lint, docs-site; then unit, integration
	@$(call stage,toolchain,tools/toolchain ensure in the background during sanity + lint + docs-site; log: $(TOOLCHAIN_LOG))
	@mkdir -p '$(ADHAR_CACHE_DIR)' '$(ADHAR_WORK)'
	@rm -f '$(TOOLCHAIN_LOG).rc'; \
	( '$(PYTHON)' '$(REPO)/tools/toolchain.py' ensure > '$(TOOLCHAIN_LOG)' 2>&1; echo $$? > '$(TOOLCHAIN_LOG).rc' ) & \
	$(MAKE) --no-print-directory sanity lint docs-site \
		|| { echo 'a check failed; the toolchain build goes on in the background (log: $(TOOLCHAIN_LOG))' >&2; exit 1; }; \
	$(call stage,toolchain,waiting for the background build); \
	wait; cat '$(TOOLCHAIN_LOG)'; \
	rc=$$(cat '$(TOOLCHAIN_LOG).rc' 2>/dev/null || echo 1); \
	if [ "$$rc" != 0 ]; then echo "tools/toolchain ensure failed (exit $$rc)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory unit integration

# ---------------------------------------------------------------- demo

# What `make demo` runs after deploy.yml (playbooks/network.yml): the clusters' Cilium ClusterMesh, a global DNS name
# for the demo application answered by both clusters (the local CoreDNS on 127.0.0.1:5353, weighted 1:1; no health
# checks: nothing listens at the loopback endpoints the inventory gives, kwok runs no containers), then the mesh table.
NETWORK := ansible-playbook -i inventories/local/adhar.yml playbooks/network.yml
DEMO_GLB := -e adhar_glb_name=demo-app -e adhar_glb_zone=adhar.localtest.me -e adhar_glb_algorithm=weighted \
	-e adhar_glb_ttl=30 -e '{"adhar_glb_health_check": {"enabled": false}}'

demo: venv system-deps toolchain collection ## deploy the local two-cluster platform (inventories/local), mesh it, give it a global DNS name, print the mesh table
	@$(call stage,demo,ansible-playbook -i inventories/local/adhar.yml playbooks/deploy.yml)
	@echo 'core services: cilium, ingress-nginx, postgresql, redis and minio from the REAL upstream charts (pinned, fetched by make toolchain from the Go module proxy; kwok simulates their Pods, so Running is simulated)'
	@echo 'argo-cd and gitea come from tests/fixtures/charts: TEST FIXTURE charts (the charts the catalog pins cannot be used here: Gitea'"'"'s chart repository is not reachable, and argo-helm'"'"'s argo-cd needs redis-ha from a repository that is not)'
	cd '$(REPO)' && $(RUN_ENV) ansible-playbook -i inventories/local/adhar.yml playbooks/deploy.yml \
		-e adhar_chart_dir='$(REPO)/tests/fixtures/charts' $(DEMO_ARGS)
	@$(call stage,demo,playbooks/network.yml: mesh the clusters; demo-app.adhar.localtest.me; test the mesh)
	cd '$(REPO)' && $(RUN_ENV) $(NETWORK) -e adhar_network_action=mesh $(DEMO_ARGS)
	cd '$(REPO)' && $(RUN_ENV) $(NETWORK) -e adhar_network_action=glb $(DEMO_GLB) $(DEMO_ARGS)
	cd '$(REPO)' && $(RUN_ENV) $(NETWORK) -e adhar_network_action=test -e adhar_mesh_wait=120 $(DEMO_ARGS)
	@echo 'the demo application global name: dig @127.0.0.1 -p 5353 demo-app.adhar.localtest.me (answers 127.0.0.2 and 127.0.0.3)'

health: venv collection ## health table of every cluster in INVENTORY (default inventories/local/adhar.yml)
	@$(call stage,health,ansible-playbook playbooks/health.yml)
	cd '$(REPO)' && $(RUN_ENV) ansible-playbook -i '$(INVENTORY)' playbooks/health.yml $(DEMO_ARGS)

destroy: venv collection ## remove the local clusters of INVENTORY (processes stopped by pid, state removed; for the local inventory the demo's DNS name first)
	@$(call stage,destroy,ansible-playbook playbooks/destroy.yml)
	@# the demo's global DNS name (and with it the local CoreDNS) goes first; nothing to do when it does not exist
	@if [ '$(INVENTORY)' = inventories/local/adhar.yml ]; then \
		cd '$(REPO)' && $(RUN_ENV) $(NETWORK) -e adhar_network_action=glb -e adhar_glb_state=absent $(DEMO_GLB) $(DEMO_ARGS); fi
	cd '$(REPO)' && $(RUN_ENV) ansible-playbook -i '$(INVENTORY)' playbooks/destroy.yml $(DEMO_ARGS)

# ---------------------------------------------------------------- maintenance

lock: ## re-resolve requirements-dev.in in a scratch venv and rewrite constraints.txt
	@$(call stage,lock,resolve requirements-dev.in)
	@rm -rf '$(ADHAR_WORK)/lock-venv' && mkdir -p '$(ADHAR_WORK)'
	'$(PYTHON)' -m venv '$(ADHAR_WORK)/lock-venv'
	'$(ADHAR_WORK)/lock-venv/bin/python' -m pip install --quiet --upgrade pip
	'$(ADHAR_WORK)/lock-venv/bin/python' -m pip install --quiet -r '$(REPO)/requirements-dev.in'
	'$(ADHAR_WORK)/lock-venv/bin/python' -m pip check
	@# Keep the leading comment block of constraints.txt, replace the pins.
	@{ awk '/^[^#[:space:]]/{exit} {print}' '$(LOCK)'; \
	   '$(ADHAR_WORK)/lock-venv/bin/python' -m pip freeze --all | grep -viE '^(setuptools|wheel)=='; } > '$(LOCK).new'
	@mv '$(LOCK).new' '$(LOCK)'
	@rm -rf '$(ADHAR_WORK)/lock-venv'
	@echo 'constraints.txt rewritten: review the header (dateutil note) and the diff'

clean: ## remove .venv, tests/output and ADHAR_WORK (never the toolchain cache)
	@$(call stage,clean,.venv tests/output $(ADHAR_WORK))
	@work="$$(realpath -m '$(ADHAR_WORK)')"; cache="$$(realpath -m '$(ADHAR_CACHE_DIR)')"; \
	case "$$work" in ''|/|"$$(realpath -m '$(HOME)')"|"$$cache"|"$$cache/bin"*|"$$cache/src"*|"$(REPO)") \
		echo "refusing to remove ADHAR_WORK=$$work" >&2; exit 1;; esac; \
	case "$$cache/" in "$$work/"*) echo "refusing: ADHAR_WORK=$$work contains the toolchain cache" >&2; exit 1;; esac; \
	rm -rf '$(VENV)' '$(REPO)/tests/output' '$(REPO)/.pytest_cache' '$(REPO)/.ansible' "$$work"
