// k6: invalid clients over mutual TLS: expired, not yet valid, unregistered and untrusted
// certificates, each in its own scenario. certgate must refuse every one of them with the
// status its policy defines (401 for validate-client-certificate failures, 403 where a
// policy returns Forbidden) and never 2xx or 5xx; the thresholds assert exactly that.
//
//   SSL_CERT_FILE=run/pki/root-ca.pem k6 run load-tests/k6/mtls-invalid.js
//
// Environment: BASE, HOST_IP, PKI (directory with the demo PKI, default ../../run/pki),
// DURATION, RATE (per scenario), INSECURE=1, EXPECT (comma-separated accepted statuses).
import http from 'k6/http';
import { check } from 'k6';

const BASE = new URL(__ENV.BASE || 'https://api.certgate.test:8443');
const HOST = BASE.hostname;
const IP = __ENV.HOST_IP || '127.0.0.1';
const PKI = __ENV.PKI || '../../run/pki';
const PATH = __ENV.PATH_ || '/validate/weather/Oslo';
const EXPECT = (__ENV.EXPECT || '401,403').split(',').map(Number);
const KINDS = ['dev-expired-client', 'dev-not-yet-valid-client', 'dev-unregistered-client', 'tst-untrusted-client'];

function scenario(kind) {
  return {
    executor: 'constant-arrival-rate',
    rate: Number(__ENV.RATE || 25),
    timeUnit: '1s',
    duration: __ENV.DURATION || '30s',
    preAllocatedVUs: 5,
    exec: 'refused',
    env: { KIND: kind },
    tags: { client: kind },
  };
}

export const options = {
  scenarios: Object.fromEntries(KINDS.map((k) => [k.replace(/-/g, '_'), scenario(k)])),
  // k6 picks the tlsAuth entry by the URL's host, so each kind connects through its own alias
  // (KIND.HOST, resolved to the gateway here; its SNI lands on the gateway's default hostname)
  // and sends the real Host header for routing. The aliases are not in the server certificate:
  // against a real deployment run with INSECURE=1 or give the gateway a wildcard default.
  hosts: Object.fromEntries([HOST, ...KINDS.map((k) => `${k}.${HOST}`)].map((h) => [h, IP])),
  insecureSkipTLSVerify: __ENV.INSECURE === '1',
  tlsAuth: KINDS.map((k) => ({
    domains: [`${k}.${HOST}`],
    cert: open(`${PKI}/${k}.pem`),
    key: open(`${PKI}/${k}.key.pem`),
  })),
  thresholds: {
    checks: ['rate==1'],
    'http_req_duration{expected_response:false}': ['p(99)<250'],
  },
};

export function refused() {
  const url = `${BASE.protocol}//${__ENV.KIND}.${BASE.host}${PATH}`;
  const res = http.get(url, { headers: { Host: HOST } });
  check(res, {
    'refused with the defined status': (r) => EXPECT.includes(r.status),
    'never reaches the backend': (r) => r.body === null || !r.body.includes('request_line'),
  });
}
