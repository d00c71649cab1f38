#!/usr/bin/env node
// GraphQL-over-HTTP conformance: runs graphql-http's `auditServer` against a freshly started
// gateway (release binary, new SQLite database in a temp dir, a free loopback port), prints
// every audit grouped by MUST/SHOULD/MAY with the response of each failure, and exits 1 when
// any audit fails, whatever its level.
//
// Usage: node scripts/graphql-http-audit.mjs
//   LASTMILE_BIN      the binary (default: $CARGO_TARGET_DIR/release/lastmile,
//                     CARGO_TARGET_DIR defaulting to ~/.cache/lastmile-target)
//   LASTMILE_TOOLS    where graphql-http is installed (default: ~/.cache/lastmile-tools);
//                     installed there with npm when missing or at another version
//   AUDIT_URL         audit a server that is already running instead (e.g.
//                     http://127.0.0.1:8000/graphql); loopback addresses only
import { ensurePackages, startGateway } from './lib/gateway.mjs';

const GRAPHQL_HTTP_VERSION = '1.23.1';
const GRAPHQL_VERSION = '16.11.0';
const START_TIMEOUT_MS = 30_000;
const AUDIT_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function assertLoopback(address) {
  const { hostname } = new URL(address);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new Error(`refusing a request to ${hostname}: loopback only`);
  }
}

// Every request of the audit goes through this: loopback only, each bounded in time.
async function boundedFetch(input, init = {}) {
  assertLoopback(typeof input === 'string' || input instanceof URL ? input : input.url);
  return fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

async function describeResponse(res) {
  if (!res) return '(no response)';
  const headers = {};
  for (const [key, value] of res.headers.entries()) headers[key] = value;
  let body;
  try {
    body = await res.clone().text();
  } catch (err) {
    body = `(body not readable: ${err.message})`;
  }
  if (body.length > 2048) body = `${body.slice(0, 2048)}… (${body.length} bytes)`;
  return [
    `HTTP ${res.status} ${res.statusText}`,
    ...Object.entries(headers).filter(([k]) => k !== 'date').map(([k, v]) => `${k}: ${v}`),
    '',
    body || '(empty body)',
  ].join('\n');
}

const indent = (text, prefix) => text.split('\n').map((line) => prefix + line).join('\n');

async function main() {
  const load = ensurePackages('node', { 'graphql-http': GRAPHQL_HTTP_VERSION, graphql: GRAPHQL_VERSION });
  const { auditServer } = await load('graphql-http', 'lib', 'index.mjs');

  let server = null;
  let url = process.env.AUDIT_URL;
  if (url) {
    assertLoopback(url);
  } else {
    server = await startGateway({ name: 'audit', timeoutMs: START_TIMEOUT_MS });
    url = `${server.origin}/graphql`;
  }
  console.log(`graphql-http ${GRAPHQL_HTTP_VERSION} auditServer against ${url}`);

  const results = await withTimeout(auditServer({ url, fetchFn: boundedFetch }), AUDIT_TIMEOUT_MS, 'the audit');

  const levels = ['MUST', 'SHOULD', 'MAY'];
  const counts = Object.fromEntries(levels.map((level) => [level, { ok: 0, total: 0 }]));
  let failed = 0;
  for (const level of levels) {
    const ofLevel = results.filter((result) => result.name.startsWith(`${level} `));
    if (ofLevel.length === 0) continue;
    console.log(`\n${level}`);
    for (const result of ofLevel) {
      counts[level].total++;
      if (result.status === 'ok') {
        counts[level].ok++;
        console.log(`  ok     ${result.id}  ${result.name}`);
      } else {
        failed++;
        console.log(`  FAIL   ${result.id}  ${result.name}  [${result.status}]`);
        console.log(`         reason: ${result.reason}`);
        console.log(indent(await describeResponse(result.response), '         | '));
      }
    }
  }
  const other = results.filter((result) => !levels.some((level) => result.name.startsWith(`${level} `)));
  for (const result of other) {
    if (result.status !== 'ok') failed++;
    console.log(`  ${result.status === 'ok' ? 'ok  ' : 'FAIL'}   ${result.id}  ${result.name}`);
  }

  if (server && !server.alive()) {
    console.log('\nthe server is no longer running');
    failed++;
  }
  server?.stop();

  const summary = levels.map((level) => `${level} ${counts[level].ok}/${counts[level].total}`).join(', ');
  console.log(`\n${summary}`);
  console.log(`audit: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`graphql-http audit: ${err.stack || err}`);
  process.exit(2);
});
