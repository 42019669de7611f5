#!/usr/bin/env node
/**
 * The container's health check (Dockerfile HEALTHCHECK): exits 0 when this node's `GET /readyz` answers 200
 * (it serves and its database answers), 1 otherwise, within 4 s. It asks where `cordon serve` listens
 * (CORDON_LISTEN, default 127.0.0.1:8080; a wildcard address is asked on loopback), over HTTPS when
 * CORDON_TLS_CERT_FILE is set, without checking the certificate: it names the public host, not this one.
 */
import http from 'node:http';
import https from 'node:https';

const listen = process.env.CORDON_LISTEN || '127.0.0.1:8080';
const colon = listen.lastIndexOf(':');
let host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
const tls = Boolean(process.env.CORDON_TLS_CERT_FILE);

const request = (tls ? https : http).get(
  { host, port: Number(listen.slice(colon + 1)), path: '/readyz', timeout: 4000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exitCode = response.statusCode === 200 ? 0 : 1;
  },
);
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', () => {
  process.exitCode = 1;
});
