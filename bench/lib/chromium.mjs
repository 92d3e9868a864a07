// Headless Chromium (Debian's) through playwright-core, with the flags that
// keep it off the closed network.
import { chromium } from 'playwright-core';

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
  return { browser, version: browser.version() };
}

/**
 * A CloudKit request's operation types, from its body as Chromium reports it
 * (records/modify names them: create, forceDelete, ...), so a chain says
 * which modify it waited on.
 */
export function cloudKitOps(postData) {
  try {
    const ops = JSON.parse(postData ?? '').operations;
    return Array.isArray(ops) ? [...new Set(ops.map((o) => o?.operationType))].join('+') : '';
  } catch {
    return '';
  }
}
