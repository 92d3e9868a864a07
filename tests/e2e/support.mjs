// Shared by the end-to-end and package tests: the demo's stack on test
// ports with a fresh KV, and Chromium through playwright-core.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';
import { chromium } from 'playwright-core';
import { DEMO_PORTAL_TOKEN, ROOT, freePort, newDemoSecrets, startStack } from '../../scripts/lib/stack.mjs';

export const ARTIFACTS = join(ROOT, 'tests/artifacts');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** Free ports for the Worker and the two stand-ins. */
export async function freePorts() {
  return { worker: await freePort(), portal: await freePort(), drive: await freePort() };
}

/**
 * The demo stack on free ports, with its own state (and KV) in a temp dir.
 * Free ports, not fixed ones: several test runs may share this machine.
 * These tests back up many times a minute as the demo's one client, so the
 * per-client write limit is raised (the limits have their own tests,
 * tests/worker/limits.test.mjs); `rateLimits` may set others.
 */
export async function startTestStack({ rateLimits = {}, ...options } = {}) {
  const ports = await freePorts();
  const stateDir = mkdtempSync(join(tmpdir(), 'portal-backup-e2e-'));
  let stack;
  try {
    stack = await startStack({
      ports, stateDir, secrets: newDemoSecrets(), ...options, rateLimits: { CLIENT_WRITES: 100_000, ...rateLimits },
    });
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...stack,
    async stop() {
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * One test file's demo stack and Chromium: started before its tests, reset
 * to an empty world before each, stopped after. `demo.stack` and
 * `demo.browser` are set once `before` ran; `demo.openWallet()` opens the
 * page as a new device (a fresh browser context, empty storage) and fails
 * if the page throws; `acceptDialogs` answers its confirm() prompts.
 */
export function useDemo(options) {
  const demo = {
    stack: null,
    browser: null,
    async openWallet({ acceptDialogs = false } = {}) {
      const context = await demo.browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      const problems = [];
      page.on('pageerror', (error) => problems.push(error.message));
      if (acceptDialogs) page.on('dialog', (dialog) => dialog.accept());
      await page.goto(`${demo.stack.url}/`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
      assert.deepEqual(problems, [], 'the page threw');
      return page;
    },
  };
  before(async () => {
    demo.stack = await startTestStack(options);
    demo.browser = await launchChromium();
  });
  after(async () => {
    await demo.browser?.close();
    await demo.stack?.stop();
  });
  beforeEach(async () => {
    await resetWorld(demo.stack);
  });
  return demo;
}

/** Back to an empty world between tests: stand-ins reset, no stored backups. */
export async function resetWorld(stack) {
  for (const base of [stack.portalUrl, stack.driveUrl, stack.icloudUrl]) {
    const response = await fetch(`${base}/__control/reset`, { method: 'POST' });
    if (!response.ok) throw new Error(`reset of ${base} failed: HTTP ${response.status}`);
  }
  for (const method of ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY']) {
    const response = await fetch(`${stack.url}/v1/client-backups/${method}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` },
    });
    if (response.status !== 204 && response.status !== 404) {
      throw new Error(`deleting the ${method} backup failed: HTTP ${response.status} ${await response.text()}`);
    }
  }
}

export async function control(base, path, body) {
  const response = await fetch(`${base}/__control/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`control ${path}: HTTP ${response.status}`);
  return response.json();
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the page finished what a click started (buttons enabled again). */
export async function idle(page) {
  await page.locator('body:not([data-busy])').waitFor({ timeout: 60_000 });
}

/** What the Worker holds for the demo client: `GET /v1/client-backups/{method}` as { status, body }. */
/** A row of the Check backups panel that says the backup recovers now, with no problem. */
export async function assertRecoverable(row, says = /Recoverable/) {
  assert.match(await row.textContent(), says);
  assert.equal(await row.getAttribute('data-problems'), '');
}

export async function serverBackup(stack, method) {
  const response = await fetch(`${stack.url}/v1/client-backups/${method}`, { headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` } });
  return { status: response.status, body: await response.json() };
}

/** { curve: fingerprint } of the shares a list on the page shows. */
export async function sharesIn(page, selector) {
  const out = {};
  for (const item of await page.locator(`${selector} li`).all()) {
    out[await item.locator('.curve').textContent()] = await item.locator('.fingerprint').textContent();
  }
  return out;
}

/**
 * Signs in on the iCloud stand-in's sign-in page (Apple's sign-in window),
 * which `open()` (a click on the page) opens as a popup; resolves once the
 * popup handed its web auth token to the page and closed. `whileOpen(popup)`
 * runs before the user signs in.
 */
export async function signInToICloud(page, open, { user = 'alice', whileOpen } = {}) {
  const popupOpened = page.waitForEvent('popup', { timeout: 20_000 });
  await open();
  const popup = await popupOpened;
  await popup.waitForLoadState();
  // What the page shows while the sign-in window is open.
  await whileOpen?.(popup);
  const closed = popup.waitForEvent('close', { timeout: 20_000 });
  await popup.getByRole('textbox', { name: 'Apple ID' }).fill(user);
  await popup.getByRole('button', { name: 'Sign In' }).click();
  await closed;
}
