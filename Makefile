# certgate — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
# Proptest cases for the reader/expression property tests; CI keeps it bounded.
PROPTEST_CASES ?= 512
export PROPTEST_CASES

.PHONY: help deps run test fmt fmt-check lint unit bench

help:
	@echo "make run    - build, write the demo PKI, start the demo backend and the gateway, print curl lines"
	@echo "make test   - install missing system packages, then fmt check, clippy -D warnings, all tests"
	@echo "make bench  - criterion benchmarks (bench/)"
	@echo "make fmt    - format the workspace"
	@echo "make lint   - clippy with warnings denied"

deps:
	@scripts/ensure-deps.sh

run: deps
	@scripts/run-demo.sh

fmt:
	$(CARGO) fmt --all

fmt-check:
	@echo "== cargo fmt --check"
	$(CARGO) fmt --all -- --check

lint: deps
	@echo "== cargo clippy (warnings denied)"
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: deps
	@echo "== cargo test (dev profile)"
	$(CARGO) test --workspace

test: deps fmt-check lint unit
	@echo "== make test: all checks passed"

bench: deps
	$(CARGO) bench -p certgate-bench
