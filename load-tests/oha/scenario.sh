#!/usr/bin/env bash
# oha scenarios with client certificates against a certgate deployment.
#
#   load-tests/oha/scenario.sh SCENARIO [extra oha flags...]
#
# SCENARIO:
#   keepalive      kept-alive mTLS GETs as the valid client (expect only 200)
#   handshake      a new TLS connection (full mTLS handshake) per request (expect only 200)
#   invalid        the expired client over mTLS (expect only 401)
#   forwarded      plain HTTP with the certificate in the forwarded header (run from a trusted
#                  proxy address; expect only 200)
#
# Environment (defaults fit `make run`): URL (https://api.certgate.test:8443/validate/weather/Oslo),
# PLAIN_URL (http://127.0.0.1:8080/validate/weather/Oslo), CONNECT_TO (api.certgate.test:8443:127.0.0.1:8443;
# empty to use DNS), PKI (run/pki), CLIENT (dev-valid-client), CACERT ($PKI/root-ca.pem),
# DURATION (10s), CONCURRENCY (16), HEADER (X-ARR-ClientCert).
# Prints oha's JSON summary; exits non-zero when any response had an unexpected status.
set -euo pipefail
scenario=${1:?usage: scenario.sh keepalive|handshake|invalid|forwarded [oha flags...]}
shift
PKI=${PKI:-run/pki}
URL=${URL:-https://api.certgate.test:8443/validate/weather/Oslo}
PLAIN_URL=${PLAIN_URL:-http://127.0.0.1:8080/validate/weather/Oslo}
CONNECT_TO=${CONNECT_TO-api.certgate.test:8443:127.0.0.1:8443}
CACERT=${CACERT:-$PKI/root-ca.pem}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-16}
HEADER=${HEADER:-X-ARR-ClientCert}
CLIENT=${CLIENT:-dev-valid-client}

common=(--no-tui --output-format json -w -z "$DURATION" -c "$CONCURRENCY")
tls=(--cacert "$CACERT")
[[ -n "$CONNECT_TO" ]] && tls+=(--connect-to "$CONNECT_TO")
expect=200
case "$scenario" in
  keepalive)
    args=("${common[@]}" "${tls[@]}" --cert "$PKI/$CLIENT.pem" --key "$PKI/$CLIENT.key.pem" "$URL") ;;
  handshake)
    args=("${common[@]}" "${tls[@]}" --disable-keepalive --cert "$PKI/$CLIENT.pem" --key "$PKI/$CLIENT.key.pem" "$URL") ;;
  invalid)
    expect=401
    args=("${common[@]}" "${tls[@]}" --cert "$PKI/dev-expired-client.pem" --key "$PKI/dev-expired-client.key.pem" "$URL") ;;
  forwarded)
    pem=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(open(sys.argv[1]).read(),safe=""))' "$PKI/$CLIENT.pem")
    args=("${common[@]}" -H "$HEADER: $pem" "$PLAIN_URL") ;;
  *) echo "unknown scenario: $scenario" >&2; exit 2 ;;
esac
out=$(oha "${args[@]}" "$@")
echo "$out"
# The status histogram must hold only the expected code, and no request may have failed.
printf '%s' "$out" | python3 -c '
import json, sys
want = sys.argv[1]
summary = json.load(sys.stdin)
codes = summary.get("statusCodeDistribution", {})
errors = summary.get("errorDistribution", {})
unexpected = {c: n for c, n in codes.items() if c != want}
if not codes or unexpected or errors:
    print(f"unexpected: statuses {unexpected or codes}, errors {errors}", file=sys.stderr)
    sys.exit(1)
print(f"ok: {sum(codes.values())} responses, all {want}", file=sys.stderr)
' "$expect"
