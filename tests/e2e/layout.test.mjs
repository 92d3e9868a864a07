// The demo page's layout at a phone's width and at a desktop's: nothing may
// stick out sideways (no horizontal scrolling, no element wider than the
// viewport, none past the edge of its panel), no request may fail (favicon included), and every panel is
// kept as a screenshot in tests/artifacts/layout-<width>-<panel>.png.
// The panels are filled first (backups with every cloud method, iCloud's
// sign-in step, a check, a recovery, a password change, the backup and
// custodian lists), since that is where long lines come from.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARTIFACTS, idle, launchChromium, resetWorld, signInToICloud, startTestStack } from './support.mjs';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a longer passphrase, changed';
const WIDTHS = [360, 390, 1280];

let stack;
let browser;

before(async () => {
  stack = await startTestStack();
  browser = await launchChromium();
  await resetWorld(stack);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** What sticks out sideways: the page's scroll width, and each element past the viewport's edges. */
function overflow(page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const wide = [];
    for (const node of document.body.querySelectorAll('*')) {
      const box = node.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      // Past the viewport, or past the card it sits in (cut off or poking out of the panel).
      const card = node.closest('section.card')?.getBoundingClientRect();
      const outOfCard = card && node.closest('section.card') !== node && (box.right > card.right + 0.5 || box.left < card.left - 0.5);
      if (box.right > width + 0.5 || box.left < -0.5 || box.width > width + 0.5 || outOfCard) {
        const name = node.id ? `#${node.id}` : node.className ? `${node.tagName.toLowerCase()}.${String(node.className).split(' ').join('.')}` : node.tagName.toLowerCase();
        wide.push(`${name} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
      }
    }
    return { scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, wide };
  });
}

async function fillPanels(page, width) {
  const seen = {};
  // A password backup, then a Drive one: the backup list, the custodian list and the ticked steps.
  const backupForm = page.locator('#backup-form');
  await backupForm.getByRole('radio', { name: /Password/ }).check();
  await backupForm.getByRole('textbox', { name: 'Backup password' }).fill(PASSWORD);
  await backupForm.getByRole('textbox', { name: 'Type it again' }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Back up wallet' }).click();
  await page.locator('#backup-outcome .alert.success').waitFor({ timeout: 60_000 });
  await idle(page);
  await backupForm.getByRole('radio', { name: /Google Drive/ }).check();
  await page.getByRole('button', { name: 'Back up wallet' }).click();
  await page.locator('#backup-outcome .alert.success').waitFor({ timeout: 60_000 });
  await idle(page);
  // iCloud: its sign-in step in the panel while the sign-in window is open.
  await backupForm.getByRole('radio', { name: /iCloud/ }).check();
  await signInToICloud(page, () => page.getByRole('button', { name: 'Back up wallet' }).click(), {
    whileOpen: async () => {
      await page.locator('#backup-outcome [data-wait="icloud"]').waitFor();
      seen['signing in'] = await overflow(page);
      await page.locator('section[aria-labelledby="backup-title"]').screenshot({ path: join(ARTIFACTS, `layout-${width}-icloud-signin.png`) });
    },
  });
  await page.locator('#backup-outcome .alert.success').waitFor({ timeout: 60_000 });
  await idle(page);
  for (const method of ['PASSWORD', 'GDRIVE', 'ICLOUD']) {
    await page.locator(`#custodian-list li[data-method="${method}-ED25519"]`).waitFor({ timeout: 15_000 });
  }

  // A check of both, with the password typed.
  await page.locator('#check-form').getByRole('textbox', { name: /Backup password/ }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Check backups' }).click();
  await idle(page);
  await page.locator('#check-list li[data-method="PASSWORD"] .badge').waitFor();

  // A recovery, with its shares and badges.
  await page.getByRole('button', { name: 'Recover wallet' }).click();
  await page.locator('#recover-outcome .alert').waitFor({ timeout: 60_000 });
  await idle(page);

  // A password change: its fields, steps and outcome, and the check it runs.
  const changeForm = page.locator('#change-form');
  await changeForm.getByRole('radio', { name: /Password/ }).check();
  await changeForm.getByRole('textbox', { name: 'Current password' }).fill(PASSWORD);
  await changeForm.getByRole('textbox', { name: 'New password' }).fill(NEW_PASSWORD);
  await changeForm.getByRole('textbox', { name: 'Type the new one again' }).fill(NEW_PASSWORD);
  await changeForm.getByRole('button', { name: 'Change password' }).click();
  await page.locator('#change-outcome .alert.success').waitFor({ timeout: 60_000 });
  await idle(page);
  return seen;
}

describe('demo page layout', () => {
  for (const width of WIDTHS) {
    test(`fits ${width} px wide, panels filled, without sideways overflow`, async () => {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      const problems = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
      });
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
      try {
        // localhost, not 127.0.0.1: the Passkey option shows as a user finds it.
        await page.goto(`${stack.url.replace('127.0.0.1', 'localhost')}/`);
        await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
        const empty = await overflow(page);
        const during = await fillPanels(page, width);
        const filled = await overflow(page);

        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, `layout-${width}-page.png`), fullPage: true });
        const panels = await page.locator('section.card').all();
        for (const panel of panels) {
          const name = (await panel.getAttribute('aria-labelledby')).replace(/-title$/, '');
          await panel.screenshot({ path: join(ARTIFACTS, `layout-${width}-${name}.png`) });
        }

        assert.deepEqual(problems, [], 'no page error and no failed request');
        for (const [when, seen] of [['empty', empty], ...Object.entries(during), ['filled', filled]]) {
          assert.ok(seen.scrollWidth <= seen.innerWidth, `${when} page at ${width} px scrolls sideways: scrollWidth ${seen.scrollWidth} > ${seen.innerWidth}`);
          assert.deepEqual(seen.wide, [], `${when} page at ${width} px: elements past the viewport`);
        }
      } finally {
        await context.close();
      }
    });
  }
});
