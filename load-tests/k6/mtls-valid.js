// k6: valid clients over mutual TLS. Every request presents the client certificate (tlsAuth)
// and must be answered 200; thresholds fail the run when errors or the p99 latency exceed
// what an edge should deliver.
//
//   SSL_CERT_FILE=run/pki/root-ca.pem k6 run load-tests/k6/mtls-valid.js
//   k6 run -e BASE=https://api.example.com -e CERT=client.pem -e KEY=client.key.pem \
//          -e HOST_IP=10.0.0.5 load-tests/k6/mtls-valid.js
//
// k6 (Go) trusts the system roots plus SSL_CERT_FILE; for a private server CA either point
// SSL_CERT_FILE at it or set -e INSECURE=1 (never against production).
import http from 'k6/http';
import { check } from 'k6';

const BASE = __ENV.BASE || 'https://api.certgate.test:8443';
const HOST = new URL(BASE).hostname;
const PATH = __ENV.PATH_ || '/validate/weather/Oslo';

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 200),
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Number(__ENV.VUS || 20),
    },
  },
  hosts: { [HOST]: __ENV.HOST_IP || '127.0.0.1' },
  insecureSkipTLSVerify: __ENV.INSECURE === '1',
  tlsVersion: { min: 'tls1.2', max: 'tls1.3' },
  tlsAuth: [
    {
      domains: [HOST],
      cert: open(__ENV.CERT || '../../run/pki/dev-valid-client.pem'),
      key: open(__ENV.KEY || '../../run/pki/dev-valid-client.key.pem'),
    },
  ],
  thresholds: {
    http_req_failed: ['rate<0.001'],
    http_req_duration: ['p(99)<250'],
    checks: ['rate>0.999'],
  },
};

export default function () {
  const res = http.get(`${BASE}${PATH}`);
  check(res, {
    'status is 200': (r) => r.status === 200,
    'backend saw the gateway': (r) => r.body !== null && r.body.includes('request_line'),
  });
}
