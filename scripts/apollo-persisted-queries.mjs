#!/usr/bin/env node
// Automatic persisted queries as Apollo Client sends them: runs @apollo/client's
// `createPersistedQueryLink` (over POST, and over GET with `useGETForHashedQueries`) against a
// freshly started gateway (release binary, new SQLite database in a temp dir, a free loopback
// port) and checks each exchange on the wire: the hash alone first, `PersistedQueryNotFound`,
// the retry with the document, then a new client whose hash alone is enough.
//
// Usage: node scripts/apollo-persisted-queries.mjs
//   LASTMILE_BIN      the binary (default: $CARGO_TARGET_DIR/release/lastmile,
//                     CARGO_TARGET_DIR defaulting to ~/.cache/lastmile-target)
//   LASTMILE_TOOLS    where @apollo/client is installed (default: ~/.cache/lastmile-tools);
//                     installed there with npm when missing or at another version
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PACKAGES = { '@apollo/client': '4.3.8', graphql: '16.11.0', rxjs: '7.8.2' };
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;

const home = homedir();
const toolsDir = process.env.LASTMILE_TOOLS || join(home, '.cache', 'lastmile-tools');
const nodeDir = join(toolsDir, 'node-apollo');
const targetDir = process.env.CARGO_TARGET_DIR || join(home, '.cache', 'lastmile-target');
const binary = process.env.LASTMILE_BIN || join(targetDir, 'release', 'lastmile');

function installedVersion(name) {
  const manifest = join(nodeDir, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) return null;
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

function ensurePackages() {
  if (Object.entries(PACKAGES).every(([name, version]) => installedVersion(name) === version)) return;
  const specs = Object.entries(PACKAGES).map(([name, version]) => `${name}@${version}`);
  console.log(`installing ${specs.join(' ')} into ${nodeDir}`);
  const npm = spawnSync(
    'npm',
    ['install', '--prefix', nodeDir, '--save-exact', '--no-audit', '--no-fund', '--loglevel=error', ...specs],
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

async function startServer() {
  if (!existsSync(binary)) {
    throw new Error(`no binary at ${binary}: run \`cargo build --release\` (or set LASTMILE_BIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'lastmile-apq-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      LISTEN_ADDR: `127.0.0.1:${port}`,
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
  process.on('exit', () => {
    if (exited === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) throw new Error(`the server exited (${exited}) before it answered /healthz`);
    try {
      if ((await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${START_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
  return `${origin}/graphql`;
}

/// A fetch that records what each request sent and what came back.
function recordingFetch(log) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const response = await fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = init.body ? JSON.parse(init.body) : null;
    const sent = body ?? Object.fromEntries(url.searchParams);
    const text = await response.clone().text();
    log.push({ method: init.method || 'GET', hasQuery: Boolean(sent.query), extensions: sent.extensions, status: response.status, text });
    return response;
  };
}

async function run(apollo, url, { get, document, expected }) {
  const { ApolloClient, InMemoryCache, HttpLink, gql } = apollo.core;
  const { createPersistedQueryLink } = apollo.pq;
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const log = [];
  const link = createPersistedQueryLink({ sha256, useGETForHashedQueries: get }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch(log) }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const result = await client.query({ query: gql(document), fetchPolicy: 'no-cache' });
  return { data: result.data, log, expected };
}

function check(name, outcome, failures) {
  const { data, log, expected } = outcome;
  const shape = log.map((entry) => `${entry.method}${entry.hasQuery ? '+query' : ''}`).join(' ');
  const ok = data?.__typename === 'Query' && shape === expected;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'}   ${name}: ${shape}`);
  if (!ok) {
    failures.push(name);
    for (const entry of log) console.log(`         | ${entry.method} ${entry.status} ${entry.text}`);
  }
}

async function main() {
  ensurePackages();
  const load = (path) => import(pathToFileURL(join(nodeDir, 'node_modules', '@apollo', 'client', path)).href);
  const apollo = { core: await load('core/index.js'), pq: await load('link/persisted-queries/index.js') };
  const url = await startServer();
  console.log(`@apollo/client ${PACKAGES['@apollo/client']} createPersistedQueryLink against ${url}`);
  const failures = [];
  const post = 'query ApqPost { __typename }';
  check('POST: hash, not found, then the document', await run(apollo, url, { get: false, document: post, expected: 'POST POST+query' }), failures);
  check('POST: a new client sends the hash alone', await run(apollo, url, { get: false, document: post, expected: 'POST' }), failures);
  const get = 'query ApqGet { __typename }';
  check('GET: hash in the URL, not found, then the document over POST', await run(apollo, url, { get: true, document: get, expected: 'GET POST+query' }), failures);
  check('GET: a new client sends the hash alone in the URL', await run(apollo, url, { get: true, document: get, expected: 'GET' }), failures);
  console.log(`persisted queries: ${4 - failures.length} passed, ${failures.length} failed`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`persisted queries: ${err.stack || err}`);
  process.exit(2);
});
