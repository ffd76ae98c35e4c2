# Two entry points on a fresh machine (see README):
#   make quickstart   install everything, train ISIF on Fashion-MNIST, print the kNN accuracy
#   make test         install everything, lint (make lint), run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install quickstart lint test test-slow

install:
	VENV=$(VENV) bash scripts/install.sh

quickstart: install
	VENV=$(VENV) bash scripts/quickstart.sh

# ruff with ruff.toml (100 columns; pycodestyle, pyflakes, isort): any finding fails.
lint: install
	$(PY) -m ruff check .

# Lint first, then the tests.
# pytest exits 5 when it collected no test: treat that as a failure, never as a pass.
test: install lint
	$(PY) -m pytest -m "not slow" -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-slow: install
	$(PY) -m pytest -m slow -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no slow tests collected" >&2; exit 1; fi; exit $$rc
