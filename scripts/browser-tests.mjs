#!/usr/bin/env node
// The pages in a real browser: headless Debian Chromium driven by playwright-core against a
// freshly started gateway (release binary, `serve --demo` on a new SQLite database in a temp
// dir, mail as files, a free loopback port, PUBLIC_URL left to its default). Every request
// that leaves loopback is aborted and fails the run. It checks that
//   1. GraphiQL renders offline and runs a query and a subscription (the token from its
//      Headers tab, sent as the socket's `connection_init` payload);
//   2. the dashboard signs in (choosing an organization), shows a status change made through
//      the API without a reload, sets a driver Active, shares and unshares it, and, its socket
//      closed with 4401, refreshes its token, reconnects and replays the change it missed;
//   3. the invitation link of a mail file opens the accept page, the invitation is accepted
//      with a new password, and the new account signs in on the dashboard;
//   4. the reset link of a mail file sets a new password that then signs in.
// Screenshots of each step go to $BROWSER_SCREENSHOTS (default:
// $CARGO_TARGET_DIR/browser-screenshots); the path is printed. Exit 1 when a check fails.
//
// Usage: node scripts/browser-tests.mjs
//   LASTMILE_BIN      the binary (default: $CARGO_TARGET_DIR/release/lastmile,
//                     CARGO_TARGET_DIR defaulting to ~/.cache/lastmile-target)
//   LASTMILE_TOOLS    where playwright-core is installed (default: ~/.cache/lastmile-tools);
//                     installed there with npm when missing or at another version
//   CHROMIUM          the browser (default: /usr/bin/chromium, Debian's `chromium`)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensurePackages, sleep, startGateway, targetDir } from './lib/gateway.mjs';

const PLAYWRIGHT_VERSION = '1.65.1';
const START_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 300_000;
const DEMO_PASSWORD = 'lastmile-demo';
const NEW_PASSWORD = 'a new long password';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shotsDir = process.env.BROWSER_SCREENSHOTS || join(targetDir, 'browser-screenshots');

function isLoopback(address) {
  const { protocol, hostname } = new URL(address);
  if (['data:', 'blob:', 'about:'].includes(protocol)) return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

/** The API as the script uses it: one operation, errors thrown. */
function api(origin) {
  return async (query, variables = {}, token = null) => {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${origin}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = await res.json();
    if (body.errors?.length) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

/** Ada's token scoped to Acme Parcel, and an ACTIVE, available Acme driver. */
async function seed(call) {
  const signIn = (await call(
    `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken organizations { id name } } }`,
    { e: 'ada@acme.example', p: DEMO_PASSWORD },
  )).signIn;
  const acme = signIn.organizations.find((o) => o.name === 'Acme Parcel');
  const token = (await call(
    `mutation($id: ID!) { selectOrganization(organizationId: $id) { accessToken } }`,
    { id: acme.id },
    signIn.accessToken,
  )).selectOrganization.accessToken;
  const drivers = (await call(
    `{ organization { drivers(first: 1, filter: { status: [ACTIVE], available: true }, orderBy: { field: LAST_NAME }) { nodes { id firstName lastName } } } }`,
    {},
    token,
  )).organization.drivers.nodes;
  if (!drivers.length) throw new Error('the demo has no ACTIVE, available Acme driver');
  return { token, driver: drivers[0] };
}

/** The first link to `path` in a mail to `to` in the mail dir, waiting for the delivery. */
async function mailLink(mailDir, to, path) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const files = existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
    for (const file of files) {
      const text = readFileSync(join(mailDir, file), 'utf8');
      const link = text.match(new RegExp(`https?://\\S+${path}\\?token=[\\w-]+`));
      if (link && new RegExp(`^To:.*${to}`, 'im').test(text)) return link[0];
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with a ${path} link`);
    await sleep(200);
  }
}

/** Sets the text of the CodeMirror 5 editor matching `selector`. */
function setEditor(page, selector, text) {
  return page.evaluate(([s, t]) => document.querySelector(s).CodeMirror.setValue(t), [selector, text]);
}

/**
 * Puts `text` in GraphiQL's query editor. GraphiQL reads the operation names off the editor
 * after a short debounce; executing sooner would send the previous document's operationName.
 */
async function setQuery(page, text) {
  await setEditor(page, '.graphiql-query-editor .CodeMirror', text);
  await sleep(750);
}

function resultText(page) {
  return page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '');
}

async function waitForResult(page, needle) {
  try {
    await page.waitForFunction(
      (n) => (document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '').includes(n),
      needle,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (error) {
    const shown = await resultText(page).catch(() => '(unreadable)');
    throw new Error(`no ${JSON.stringify(needle)} in the result pane, which shows: ${shown || '(nothing)'}`, {
      cause: error,
    });
  }
}

async function graphiql({ context, origin, call, seeded, shot }) {
  const page = await context.newPage();
  await page.goto(`${origin}/graphql`);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('.graphiql-editor-tool .CodeMirror', { state: 'attached' });
  const headers = JSON.stringify({ Authorization: `Bearer ${seeded.token}` });
  // The variables and headers editors, in that order; the Headers tab is open.
  await page.evaluate((h) => {
    const editors = document.querySelectorAll('.graphiql-editor-tool .CodeMirror');
    editors[editors.length - 1].CodeMirror.setValue(h);
  }, headers);
  await setQuery(page, '{ viewer { email organization { name } } }');
  await page.click('.graphiql-execute-button');
  await waitForResult(page, 'Acme Parcel');
  await shot(page, '1-graphiql-query');

  const subscription = `subscription Live { statusChanged { kind status driver { firstName lastName } } }`;
  await setQuery(page, subscription);
  await page.click('.graphiql-execute-button');
  await sleep(1000); // the socket connects and subscribes
  await call(`mutation($id: ID!) { setDriverInactive(driverId: $id) { status } }`, { id: seeded.driver.id }, seeded.token);
  await waitForResult(page, 'DEACTIVATED');
  if (!(await resultText(page)).includes(seeded.driver.lastName)) throw new Error('the event names another driver');
  await shot(page, '2-graphiql-subscription');
  await page.click('.graphiql-execute-button'); // stops the subscription
  await page.close();
}

function rowStatus(page, driverId) {
  return page.locator(`tr[data-driver="${driverId}"] [data-status]`);
}

async function signIn(page, email, password) {
  await page.fill('#signin-form input[name=email]', email);
  await page.fill('#signin-form input[name=password]', password);
  await page.click('#signin-form button[type=submit]');
}

/**
 * The page's sockets, proxied to the gateway: `drop()` closes the current one as the gateway
 * closes an expired token's (4401), and holds what the page sends on the next one until
 * `release()`, so a change can be made while the page is away.
 */
async function proxySockets(page) {
  const sockets = [];
  let release = () => {};
  let hold = null;
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    const server = ws.connectToServer();
    const gate = hold;
    ws.onMessage(async (message) => {
      await gate;
      server.send(message);
    });
    sockets.push({ ws, server });
  });
  return {
    count: () => sockets.length,
    drop() {
      hold = new Promise((resolve) => {
        release = resolve;
      });
      const { ws, server } = sockets[sockets.length - 1];
      server.close();
      ws.close({ code: 4401, reason: 'Access token expired' });
    },
    release: () => release(),
  };
}

async function until(what, check) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Closed with 4401, the page refreshes its token, reconnects and replays what it missed. */
async function reconnects({ page, sockets, call, seeded, status, shot }) {
  let refreshes = 0;
  page.on('request', (request) => {
    if (request.postData()?.includes('refreshToken(')) refreshes++;
  });
  const before = (await status.textContent()).trim();
  const [change, after] = before === 'ACTIVE' ? ['setDriverInactive', 'INACTIVE'] : ['setDriverActive', 'ACTIVE'];
  const first = sockets.count();
  sockets.drop();
  await page.waitForSelector('#live.off', { timeout: STEP_TIMEOUT_MS });
  await until('the page to reconnect', () => sockets.count() > first);
  await call(`mutation($id: ID!) { ${change}(driverId: $id) { status } }`, { id: seeded.driver.id }, seeded.token);
  await shot(page, '6-dashboard-reconnecting');
  if ((await status.textContent()).trim() !== before) throw new Error('the change arrived before the page reconnected');
  sockets.release();
  await expectText(status, after);
  await page.waitForSelector('#live.on', { timeout: STEP_TIMEOUT_MS });
  if (refreshes === 0) throw new Error('the page reconnected after 4401 without refreshing its token');
}

async function dashboard({ context, origin, call, seeded, shot }) {
  const page = await context.newPage();
  const sockets = await proxySockets(page);
  await page.goto(`${origin}/`);
  await signIn(page, 'ada@acme.example', DEMO_PASSWORD);
  await page.click('#organizations button:has-text("Acme Parcel")', { timeout: STEP_TIMEOUT_MS });
  const status = rowStatus(page, seeded.driver.id);
  await status.waitFor({ timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('#live.on', { timeout: STEP_TIMEOUT_MS });
  await shot(page, '3-dashboard-signed-in');

  // A change made elsewhere appears; then the page's own button changes it back.
  const before = (await status.textContent()).trim();
  const [change, after, button] = before === 'ACTIVE'
    ? ['setDriverInactive', 'INACTIVE', 'Set as Active']
    : ['setDriverActive', 'ACTIVE', 'Set as Inactive'];
  await call(`mutation($id: ID!) { ${change}(driverId: $id) { status } }`, { id: seeded.driver.id }, seeded.token);
  await expectText(status, after);
  await shot(page, '4-dashboard-live-change');
  const row = page.locator(`tr[data-driver="${seeded.driver.id}"]`);
  await row.locator(`button:has-text("${button}")`).click();
  await expectText(status, before);

  await page.fill('#share-form input[name=name]', 'Nordic Freight');
  await page.click('#share-form button[type=submit]');
  await page.check(`#share-result input[value="${seeded.driver.id}"]`, { timeout: STEP_TIMEOUT_MS });
  await page.click('#share-result button:has-text("Share with Nordic Freight")');
  await row.locator('.chip:has-text("Nordic Freight")').waitFor({ timeout: STEP_TIMEOUT_MS });
  await shot(page, '5-dashboard-shared');
  await row.locator('.chip:has-text("Nordic Freight") button').click();
  await row.locator('.chip').waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
  await reconnects({ page, sockets, call, seeded, status, shot });
  await page.click('#signout');
  await page.close();
}

async function expectText(locator, text) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await locator.textContent({ timeout: STEP_TIMEOUT_MS })).trim();
    if (seen === text) return;
    await sleep(100);
  }
  throw new Error(`expected “${text}”, saw “${seen}”`);
}

async function invitation({ context, origin, server, call, seeded, shot }) {
  const email = 'iris.invitee@example.test';
  await call(
    `mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }`,
    { input: { firstName: 'Iris', lastName: 'Invitee', email, roles: ['DISPATCHER'] } },
    seeded.token,
  );
  const link = await mailLink(server.mailDir, email, '/accept-invitation');
  if (!link.startsWith(`${origin}/`)) throw new Error(`the mail links to ${link}, not to the listen address ${origin}`);
  const page = await context.newPage();
  await page.goto(link);
  await page.waitForSelector('#accept:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await page.fill('#accept-form input[name=password]', NEW_PASSWORD);
  await page.fill('#accept-form input[name=repeat]', NEW_PASSWORD);
  await shot(page, '7-accept-invitation');
  await page.click('#accept-form button[type=submit]');
  await page.waitForSelector('#done:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await page.click('#done a');
  await page.waitForSelector('#drivers tbody tr', { timeout: STEP_TIMEOUT_MS });
  await page.click('#signout');
  await signIn(page, email, NEW_PASSWORD);
  await page.waitForSelector('#drivers tbody tr', { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector(`#who:has-text("${email}")`);
  await shot(page, '8-invited-account-signed-in');

  await call(`mutation($e: String!) { requestPasswordReset(email: $e) }`, { e: email });
  const reset = await mailLink(server.mailDir, email, '/reset-password');
  await page.goto(reset);
  await page.fill('#reset-form input[name=password]', `${NEW_PASSWORD} 2`);
  await page.fill('#reset-form input[name=repeat]', `${NEW_PASSWORD} 2`);
  await page.click('#reset-form button[type=submit]');
  await page.waitForSelector('#done:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await shot(page, '9-password-reset');
  await page.click('#done a');
  await signIn(page, email, `${NEW_PASSWORD} 2`);
  await page.waitForSelector('#drivers tbody tr', { timeout: STEP_TIMEOUT_MS });
  await page.close();
}

async function main() {
  const load = ensurePackages('node', { 'playwright-core': PLAYWRIGHT_VERSION });
  if (!existsSync(chromiumPath)) throw new Error(`no browser at ${chromiumPath}: apt-get install -y chromium`);
  const { chromium } = await load('playwright-core', 'index.mjs');
  const server = await startGateway({ args: ['--demo'], name: 'browser', timeoutMs: START_TIMEOUT_MS, stdout: 'ignore' });
  const call = api(server.origin);
  const seeded = await seed(call);
  rmSync(shotsDir, { recursive: true, force: true });
  mkdirSync(shotsDir, { recursive: true });

  const profile = mkdtempSync(join(tmpdir(), 'lastmile-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  const problems = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    problems.push(`a request left loopback: ${url}`);
    return route.abort();
  });
  context.on('page', (page) => {
    page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${page.url()}: console: ${message.text()}`);
    });
  });
  const shot = (page, name) => page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: true });
  const world = { context, origin: server.origin, server, call, seeded, shot };

  const results = [];
  for (const [name, check] of [
    ['GraphiQL renders offline and runs a query and a subscription', graphiql],
    ['the dashboard shows a change made through the API without a reload, and acts', dashboard],
    ['an invitation mail is accepted in the browser and the new account signs in; a reset mail sets a password', invitation],
  ]) {
    const before = problems.length;
    try {
      await check(world);
      if (problems.length > before) throw new Error(problems.slice(before).join('\n'));
      results.push([name, null]);
    } catch (error) {
      results.push([name, error]);
    }
  }
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  if (!server.alive()) results.push(['the server still runs', new Error('it exited')]);

  for (const [name, error] of results) {
    console.log(`${error ? 'FAIL' : 'ok  '}  ${name}`);
    if (error) console.log(`      ${String(error.stack || error).split('\n').join('\n      ')}`);
  }
  const failed = results.filter(([, error]) => error).length;
  console.log(`\nscreenshots: ${shotsDir}`);
  console.log(`browser tests: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

setTimeout(() => {
  console.error(`browser tests: still running after ${RUN_TIMEOUT_MS / 1000} s`);
  process.exit(2);
}, RUN_TIMEOUT_MS).unref();

main().catch((error) => {
  console.error(`browser tests: ${error.stack || error}`);
  process.exit(2);
});
