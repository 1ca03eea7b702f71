#!/usr/bin/env bash
# Installs the system packages certgate's build needs on a Debian machine, and says what it does.
# Usage: scripts/ensure-deps.sh [--boringssl]
#   wrk, nodejs (node --check), oha (cargo install): the load-test kit's test (load-tests/)
#   cmake       zlib-ng (pulled in by Pingora) and BoringSSL builds
#   pkg-config  + libssl-dev: the openssl crate links Debian's OpenSSL
#   clang + libclang-dev (only with --boringssl): bindgen for the boring crate
#   redis-server: the shared-state tests start their own on a loopback port
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)   # C code in the build: jemalloc, zlib-ng, vendored OpenSSL
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
# perl + make build the vendored OpenSSL that Pingora's openssl backend uses; curl drives the
# end-to-end tests and `make run`.
command -v perl >/dev/null 2>&1 || need+=(perl)
command -v make >/dev/null 2>&1 || need+=(make)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [[ "${1:-}" == "--boringssl" ]]; then
  command -v clang >/dev/null 2>&1 || need+=(clang)
  dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
fi
for pair in fmt:rustfmt clippy:clippy; do
  sub=${pair%%:*} component=${pair##*:}
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    echo "ensure-deps: installing rustup component $component"
    rustup component add "$component"
  fi
done
if ((${#need[@]})); then
  echo "ensure-deps: installing Debian packages: ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
else
  echo "ensure-deps: system packages present (cmake, pkg-config, libssl-dev, perl, make, curl, openssl, wrk, node, redis-server)"
fi
if ! command -v oha >/dev/null 2>&1; then
  echo "ensure-deps: installing oha (HTTP load generator) with cargo install, a few minutes"
  cargo install oha --locked --quiet
fi
