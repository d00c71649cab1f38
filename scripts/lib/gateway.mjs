// What the black-box scripts share: npm packages pinned into a cache of their own, and a
// freshly started gateway (the release binary, a new SQLite database in a temp dir, a free
// loopback port), stopped and cleaned up when the script exits.
//
// Environment:
//   LASTMILE_BIN      the binary (default: $CARGO_TARGET_DIR/release/lastmile,
//                     CARGO_TARGET_DIR defaulting to ~/.cache/lastmile-target)
//   LASTMILE_TOOLS    where npm packages are installed (default: ~/.cache/lastmile-tools)

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const home = homedir();
const toolsDir = process.env.LASTMILE_TOOLS || join(home, '.cache', 'lastmile-tools');
export const targetDir = process.env.CARGO_TARGET_DIR || join(home, '.cache', 'lastmile-target');
const binary = process.env.LASTMILE_BIN || join(targetDir, 'release', 'lastmile');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Installs `packages` ({ name: version }) into the tools folder `folder`, unless those exact
 * versions are there already; returns a loader of their modules.
 */
export function ensurePackages(folder, packages) {
  const nodeDir = join(toolsDir, folder);
  const installed = (name) => {
    const manifest = join(nodeDir, 'node_modules', name, 'package.json');
    return existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : null;
  };
  if (!Object.entries(packages).every(([name, version]) => installed(name) === version)) {
    const specs = Object.entries(packages).map(([name, version]) => `${name}@${version}`);
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
  return (...path) => import(pathToFileURL(join(nodeDir, 'node_modules', ...path)).href);
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

/**
 * Starts the gateway with `args` (after `serve`) and waits until it answers /healthz.
 * Returns its origin, its mail directory, `alive()` and `stop()`.
 */
export async function startGateway({ args = [], name = 'gateway', timeoutMs = 30_000, stdout = 'inherit', env = {} } = {}) {
  if (!existsSync(binary)) {
    throw new Error(`no binary at ${binary}: run \`cargo build --release\` (or set LASTMILE_BIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), `lastmile-${name}-`));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const mailDir = join(dir, 'mail');
  const child = spawn(binary, ['serve', ...args], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      LISTEN_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${join(dir, 'lastmile.db')}?mode=rwc`,
      MAIL_DIR: mailDir,
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', stdout, 'inherit'],
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
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) throw new Error(`the server exited (${exited}) before it answered /healthz`);
    const ok = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
  return { origin, mailDir, alive: () => exited === null, stop };
}
