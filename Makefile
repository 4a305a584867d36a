# Two entry points (see README): `make run` and `make test`. Everything else is a step they need.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
CACHE ?= $(HOME)/.cache/little-coder
EXAMPLE_RUN ?= $(CACHE)/example-run
TASK ?= Implement is_leap in leap.py so that the tests in test_leap.py pass.

.PHONY: setup deps lint run test bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

# The main job: the agent on a fresh copy of the bundled example, against the model server it finds.
run: setup
	@if curl -sf -m 2 http://127.0.0.1:11434/api/tags >/dev/null 2>&1 || curl -sf -m 2 http://127.0.0.1:8080/health >/dev/null 2>&1; then :; \
	else echo "No Ollama or llama.cpp server answers: getting the embedded smoke-test server (built once, cached)." >&2; \
		VENV=$(VENV) bash scripts/deps/llama.sh; fi
	rm -rf $(EXAMPLE_RUN) && mkdir -p $(dir $(EXAMPLE_RUN)) && cp -r examples/leap $(EXAMPLE_RUN)
	$(VENV)/bin/little-coder run --workspace $(EXAMPLE_RUN) "$(TASK)"

# Each area's installer (editors, toolchains, llama-server): idempotent, cached under $(CACHE).
deps: setup
	@set -e; for script in scripts/deps/*.sh; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script" >&2; VENV=$(VENV) bash "$$script"; \
	done

# Static checks: the code stays typed (mypy --strict) and lint-clean.
lint: setup
	$(VENV)/bin/ruff check agent lc_lsp
	$(VENV)/bin/mypy

test: deps lint
	LITTLE_CODER_REQUIRE_TOOLCHAINS=1 $(VENV)/bin/pytest -q

bench: setup
	$(VENV)/bin/python bench/agent_overhead.py
