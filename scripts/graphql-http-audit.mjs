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
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const GRAPHQL_HTTP_VERSION = '1.23.1';
const GRAPHQL_VERSION = '16.11.0';
const START_TIMEOUT_MS = 30_000;
const AUDIT_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;

const home = homedir();
const toolsDir = process.env.LASTMILE_TOOLS || join(home, '.cache', 'lastmile-tools');
const nodeDir = join(toolsDir, 'node');
const targetDir = process.env.CARGO_TARGET_DIR || join(home, '.cache', 'lastmile-target');
const binary = process.env.LASTMILE_BIN || join(targetDir, 'release', 'lastmile');

function installedVersion(name) {
  const manifest = join(nodeDir, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) return null;
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

function ensureGraphqlHttp() {
  if (installedVersion('graphql-http') === GRAPHQL_HTTP_VERSION && installedVersion('graphql') === GRAPHQL_VERSION) {
    return;
  }
  console.log(`installing graphql-http@${GRAPHQL_HTTP_VERSION} into ${nodeDir}`);
  const npm = spawnSync(
    'npm',
    [
      'install', '--prefix', nodeDir, '--save-exact', '--no-audit', '--no-fund', '--loglevel=error',
      `graphql-http@${GRAPHQL_HTTP_VERSION}`, `graphql@${GRAPHQL_VERSION}`,
    ],
    { stdio: 'inherit', timeout: 300_000 },
  );
  if (npm.status !== 0) {
    throw new Error(`npm install failed (status ${npm.status}${npm.error ? `, ${npm.error.message}` : ''})`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

async function startServer() {
  if (!existsSync(binary)) {
    throw new Error(`no binary at ${binary}: run \`cargo build --release\` (or set LASTMILE_BIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-audit-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      LISTEN_ADDR: `127.0.0.1:${port}`,
      PUBLIC_URL: origin,
      DATABASE_URL: `sqlite://${join(dir, 'lastmile.db')}?mode=rwc`,
      MAIL_DIR: join(dir, 'mail'),
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = signal ? `signal ${signal}` : `status ${code}`;
  });
  const stop = () => {
    if (exited === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', () => {
    if (exited === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => process.exit(130));
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) throw new Error(`the server exited (${exited}) before it answered /healthz`);
    try {
      const res = await boundedFetch(`${origin}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${START_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
  return { url: `${origin}/graphql`, stop, alive: () => exited === null };
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
  ensureGraphqlHttp();
  const { auditServer } = await import(
    pathToFileURL(join(nodeDir, 'node_modules', 'graphql-http', 'lib', 'index.mjs')).href
  );

  let server = null;
  let url = process.env.AUDIT_URL;
  if (url) {
    assertLoopback(url);
  } else {
    server = await startServer();
    url = server.url;
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
