# Two commands a new user needs, from a fresh clone (Python 3.11 on PATH):
#   make run    set up .venv and open the app on the default study area
#   make test   set up .venv and run the whole test suite
# Optional: make run SOURCE=path/to/area.osm.pbf ; make bench

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
SOURCE ?= default
PORT ?= 8501

.PHONY: run test bench bench-scale lint setup clean

# System packages: a CJK font for the Chinese PDF report and Debian's chromium for the
# real-browser test. Installed with apt-get (as root, or through sudo) when missing.
SYSDEPS := fonts-noto-cjk chromium

$(STAMP): requirements.txt
	@if ! (fc-list 2>/dev/null | grep -q "Noto Sans CJK") || ! command -v chromium >/dev/null; then \
		echo "installing $(SYSDEPS) with apt-get"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(SYSDEPS) fontconfig >/dev/null || \
		echo "warning: could not install $(SYSDEPS); the PDF report falls back to English and the browser test cannot run"; \
	fi
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# Compile the partition's loops and the network's searches now (numba caches them),
	# not at the first click.
	$(BIN)/python -c "from gis.zoning._compiled import warm_up; warm_up()"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	SERVICE_CIRCLE_SOURCE="$(SOURCE)" $(BIN)/python -m views.serve \
		--server.headless true --server.port $(PORT) --browser.gatherUsageStats false

# Lint, types and the import layering first (CI runs `make test`), then the tests.
# pytest exits 5 when it collects no test; that is not a failure of the setup.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests; s=$$?; \
		if [ $$s -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$s

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/coverage_engines.py
	$(BIN)/python benchmarks/siting.py
	$(BIN)/python benchmarks/grids.py
	$(BIN)/python benchmarks/app.py

# City scale (needs ../shared/data): Malta and Porto against the pyrosm parse time.
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
