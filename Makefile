# certgate — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
# Proptest cases for the reader/expression property tests; CI keeps it bounded.
PROPTEST_CASES ?= 512
export PROPTEST_CASES

# The BoringSSL build (SPEC §1): same crates, `--no-default-features --features boringssl`.
BORING := -p certgate -p certgate-policy --no-default-features --features boringssl

.PHONY: help deps deps-boringssl run test fmt fmt-check lint unit boringssl bench compare instructions syscalls idle

help:
	@echo "make run    - build, write the demo PKI, start the demo backend and the gateway, print curl lines"
	@echo "make test   - install missing system packages, then fmt check, clippy -D warnings, all tests,"
	@echo "              then the same for the BoringSSL build (make boringssl)"
	@echo "make bench  - criterion benchmarks (bench/)"
	@echo "make compare - certgate vs nginx vs HAProxy side by side (bench/compare), writes bench/RESULTS.md"
	@echo "make instructions - callgrind instructions per kept-alive request and where they go"
	@echo "                    (INSTRUCTIONS_ARGS=--http2, or --handshakes full|resumed: per new connection)"
	@echo "make syscalls - user/system CPU and system calls per kept-alive request, certgate and nginx"
	@echo "                (SYSCALLS_ARGS=--handshakes full|resumed: per new connection)"
	@echo "make idle   - memory per idle kept-alive mTLS connection, production build (IDLE_ARGS=--nginx)"
	@echo "make fmt    - format the workspace"
	@echo "make lint   - clippy with warnings denied"

deps:
	@scripts/ensure-deps.sh

deps-boringssl:
	@scripts/ensure-deps.sh --boringssl

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
	@echo "== the vendored pingora-pool's, pingora-http's and pingora-timeout's own tests (third_party/README.md: why not pingora-core's and -proxy's)"
	$(CARGO) test --manifest-path third_party/pingora-pool/Cargo.toml --target-dir target/third_party
	$(CARGO) test --manifest-path third_party/pingora-http/Cargo.toml --target-dir target/third_party
	$(CARGO) test --manifest-path third_party/pingora-timeout/Cargo.toml --target-dir target/third_party

# Builds BoringSSL from source (cmake, clang/libclang for bindgen) the first time: a few minutes.
boringssl: deps-boringssl
	@echo "== BoringSSL build: clippy (warnings denied) and tests"
	$(CARGO) clippy $(BORING) --all-targets -- -D warnings
	$(CARGO) test $(BORING)

test: deps fmt-check lint unit boringssl
	@echo "== make test: all checks passed"

bench: deps
	$(CARGO) bench -p certgate-bench

# Installs nginx-light, haproxy, wrk (Debian) and oha (crates.io) when missing; ~15 minutes.
# COMPARE_ARGS="--rounds 1 --duration 3 --keys ecdsa" for a quick look.
compare: deps-boringssl
	python3 bench/compare/compare.py $(COMPARE_ARGS)

# Repeatable instruction counts for one change to the request path (installs valgrind when
# missing). INSTRUCTIONS_ARGS="--policy" for the 1 000-certificate policy.
instructions: deps
	python3 bench/compare/instructions.py $(INSTRUCTIONS_ARGS)

# User and system CPU and system calls (strace -c) per kept-alive request, certgate beside nginx
# (installs nginx, oha and strace when missing). SYSCALLS_ARGS="--binary PATH --policy".
syscalls: deps
	python3 bench/compare/syscalls.py $(SYSCALLS_ARGS)

# RSS per idle kept-alive mTLS connection for one binary (the production build: BoringSSL and
# jemalloc), without a whole `make compare`. IDLE_ARGS="--nginx" measures nginx beside it.
idle: deps-boringssl
	cargo build --release -q -p certgate --no-default-features --features boringssl,jemalloc
	python3 bench/compare/idle.py --binary target/release/certgate $(IDLE_ARGS)
