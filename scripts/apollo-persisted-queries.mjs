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
import { createHash } from 'node:crypto';

import { ensurePackages, startGateway } from './lib/gateway.mjs';

const PACKAGES = { '@apollo/client': '4.3.8', graphql: '16.11.0', rxjs: '7.8.2' };
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;

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
  const load = ensurePackages('node-apollo', PACKAGES);
  const apollo = {
    core: await load('@apollo', 'client', 'core/index.js'),
    pq: await load('@apollo', 'client', 'link/persisted-queries/index.js'),
  };
  const url = `${(await startGateway({ name: 'apq', timeoutMs: START_TIMEOUT_MS })).origin}/graphql`;
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
