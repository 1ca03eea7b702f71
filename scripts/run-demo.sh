#!/usr/bin/env bash
# `make run`: builds certgate, writes the demo PKI, starts the demo backend and the gateway on
# the example configuration, prints ready-to-paste curl lines with the expected answers, and
# serves until Ctrl-C (which stops both processes).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building certgate (dev profile)"
cargo build -q -p certgate
BIN=target/debug/certgate
RUN=run
echo "== preparing $RUN/: example configuration and policies, demo PKI"
rm -rf "$RUN"
mkdir -p "$RUN"
cp -r examples/* "$RUN"/
"$BIN" pki demo --out "$RUN/pki"
"$BIN" check -c "$RUN/certgate.yaml"
P="$RUN/pki"
"$BIN" demo-backend --listen 127.0.0.1:9443 --cert "$P/backend-server.chain.pem" --key "$P/backend-server.key.pem" \
  --client-ca "$P/root-ca.pem" --client-ca "$P/dev-intermediate-ca.pem" > "$RUN/backend.log" 2>&1 &
BACKEND=$!
"$BIN" run -c "$RUN/certgate.yaml" > "$RUN/gateway.log" 2>&1 &
GATEWAY=$!
trap 'kill $GATEWAY $BACKEND 2>/dev/null; wait 2>/dev/null; echo; echo "stopped"' EXIT INT TERM
for _ in $(seq 1 50); do
  curl -sf http://127.0.0.1:9901/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf http://127.0.0.1:9901/readyz >/dev/null || { echo "gateway did not start; see $RUN/gateway.log"; cat "$RUN/gateway.log"; exit 1; }
C="curl -s -i --cacert $P/root-ca.pem --resolve api.certgate.test:8443:127.0.0.1"
U=https://api.certgate.test:8443/validate/weather/Oslo
cat <<EOT

certgate is serving https://api.certgate.test:8443 (demo backend on 127.0.0.1:9443, admin on 127.0.0.1:9901).
Logs: $RUN/gateway.log, $RUN/backend.log. Paste any of these in another shell:

# valid client -> 200, the backend's JSON echo (it sees the gateway's certificate CN=Unprotected API)
$C --cert $P/dev-valid-client.pem --key $P/dev-valid-client.key.pem $U

# unregistered client (right CA, other subject) -> 401, X-Error-Reason: ClientCertificateIdentityNotMatched
$C --cert $P/dev-unregistered-client.pem --key $P/dev-unregistered-client.key.pem $U

# expired client -> 401, X-Error-Reason: ClientCertificateExpired
$C --cert $P/dev-expired-client.pem --key $P/dev-expired-client.key.pem $U

# not-yet-valid client -> 401, X-Error-Reason: ClientCertificateNotYetValid
$C --cert $P/dev-not-yet-valid-client.pem --key $P/dev-not-yet-valid-client.key.pem $U

# untrusted client (TST intermediate, sent in its chain) -> 401, X-Error-Reason: ClientCertificateNotTrusted
$C --cert $P/tst-untrusted-client.chain.pem --key $P/tst-untrusted-client.key.pem $U

# no certificate -> 401, body {"message":"Client certificate missing","statusCode":401}
$C $U

# a Host naming another configured hostname (the strict partner.certgate.test) than the
# connection's -> 421 Misdirected Request, before any policy runs (README "Authentication boundary")
$C -H "Host: partner.certgate.test" $U

# other seed scenarios with the valid client: /thumbprint/x, /issuer-subject/x, /uploaded/x, /context/x
$C --cert $P/dev-valid-client.pem --key $P/dev-valid-client.key.pem https://api.certgate.test:8443/uploaded/x

# admin: metrics and a hot reload
curl -s http://127.0.0.1:9901/metrics
curl -s -X POST http://127.0.0.1:9901/admin/reload

Press Ctrl-C to stop.
EOT
wait $GATEWAY
