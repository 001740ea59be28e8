// Shared pieces of the browser tests: the real openqoe binary, and Debian's headless Chromium.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const binary = process.env.OPENQOE_BIN ?? path.join(repo, 'target/debug/openqoe');
export const artifacts = path.join(repo, 'artifacts');

/**
 * Starts `openqoe <command> --listen 127.0.0.1:0 --data-dir <tmp>` and resolves its URL from
 * `prefix`; `env` adds variables (e.g. `OPENQOE_CONFIG`, a configuration file).
 */
export function startOpenqoe(command, prefix, env = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'openqoe-'));
  const child = spawn(binary, [command, '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, OPENQOE_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`openqoe ${command} printed no URL within 60 s`)), 60000);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(new RegExp(`${prefix} (http://\\S+)`));
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ''));
      }
    });
    child.on('exit', (code) => reject(new Error(`openqoe ${command} exited with ${code}`)));
  });
  const stop = () => {
    child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  // `serve` made an admin token in its data directory before it listened (the demo on loopback
  // asks for none): reads send it, as an operator's script would.
  const headers = url.then(() => {
    const file = path.join(dataDir, 'access', 'admin-token');
    return fs.existsSync(file) ? { authorization: `Bearer ${fs.readFileSync(file, 'utf8').trim()}` } : {};
  });
  /** `fetch` of a path (or URL) of this server, with its token. */
  const api = async (pathOrUrl, init = {}) => {
    const target = pathOrUrl.startsWith('http') ? pathOrUrl : `${await url}${pathOrUrl}`;
    return fetch(target, { ...init, headers: { ...(await headers), ...(init.headers ?? {}) } });
  };
  return { url, stop, headers, api };
}

/**
 * Signs the browser `context` in to the openqoe at `url` with the token in `headers` (from
 * `startOpenqoe`): the session cookie lands in the context's cookie jar, as a sign-in on the
 * dashboard would leave it. Nothing to do when the server asks for no credentials.
 */
export async function signIn(context, url, headers) {
  const token = headers.authorization?.replace('Bearer ', '');
  if (!token) return;
  const answer = await context.request.post(`${url}/v1/session`, { data: { token } });
  if (!answer.ok()) throw new Error(`signing in: ${answer.status()} ${await answer.text()}`);
}

/** Launches headless Chromium with the flags this machine needs; collects console errors. */
export async function launchChromium(extraArgs = []) {
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-')), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { context, page, problems };
}
