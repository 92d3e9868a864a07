// The demo wallet page: backs up and recovers a made-up Portal wallet with
// the portal-backup npm package, against this origin's Worker.
import init, {
  backupWallet, recoverWallet, checkBackup, changeBackupKey, listBackups, listCustodianBackups, deleteBackup,
} from 'portal-backup';
import { clientBackupFor, fingerprints } from './wallet.js';
import { connectDrive } from './drive-auth.js';
import { connectICloud } from './icloud-auth.js';

const $ = (selector) => document.querySelector(selector);

const METHOD_NAMES = { GDRIVE: 'Google Drive', ICLOUD: 'iCloud', PASSWORD: 'Password', PASSKEY: 'Passkey' };
// Every list of backups on the page in this order.
const METHOD_ORDER = Object.keys(METHOD_NAMES);
const byMethod = (a, b) => rank(a) - rank(b) || a.localeCompare(b);
function rank(code) {
  const i = METHOD_ORDER.indexOf(code.split('-')[0]);
  return i < 0 ? METHOD_ORDER.length : i;
}
// "GDRIVE-SECP256K1" (Portal's custodian method, per curve) → "Google Drive · SECP256K1".
function methodLabel(code) {
  const [method, ...curve] = code.split('-');
  return [METHOD_NAMES[method] ?? method, ...curve].join(' · ');
}
// Where a cloud method keeps its key.
const place = (method) => (method === 'ICLOUD' ? 'iCloud' : 'Google Drive');
// What opens a backup of this method, in a user's words.
const KEY_WORDS = { PASSWORD: 'password', PASSKEY: 'passkey' };
const keyWord = (method) => KEY_WORDS[method] ?? 'key';

// Each flow's steps, in words; `method` names where the key goes.
const STEP_LABELS = {
  encrypt: () => 'Encrypt the backup share',
  storeKey: (m) => `Save the key to ${place(m)}`,
  storeShare: () => 'Send the encrypted share to the server',
  checkStorage: (m) => `Check the key in ${place(m)}`,
  notifyPortal: () => 'Tell Portal the backup is stored',
  confirm: () => 'Confirm the backup with the server',
  removeOldKeys: (m) => `Remove old keys from ${place(m)}`,
  fetchKey: (m) => `Read the key from ${place(m)}`,
  fetchShare: () => 'Fetch the encrypted share from the server',
  decrypt: () => 'Decrypt the backup share',
};
// changeBackupKey's steps: the same backup opened, sealed again, swapped in.
const CHANGE_LABELS = {
  fetchKey: (m) => `Read the current key from ${place(m)}`,
  fetchShare: () => 'Fetch the encrypted share from the server',
  decrypt: (m) => `Open the backup with the current ${keyWord(m)}`,
  encrypt: (m) => (m === 'PASSKEY' ? 'Seal it with a new passkey' : `Seal it with the new ${keyWord(m)}`),
  storeKey: (m) => `Save the new key to ${place(m)}`,
  storeShare: () => 'Send the new version to the server',
  checkStorage: (m) => `Check the new key in ${place(m)}`,
  confirm: () => 'Confirm the new version with the server',
  removeOldKeys: (m) => `Remove the old key from ${place(m)}`,
};
const labeler = (labels, method) => (step) => labels[step]?.(method) ?? step;

const CLOUD_BACKUP = ['encrypt', 'storeKey', 'storeShare', 'checkStorage', 'notifyPortal', 'confirm', 'removeOldKeys'];
const STEPS = {
  backup: { GDRIVE: CLOUD_BACKUP, ICLOUD: CLOUD_BACKUP, PASSWORD: ['encrypt', 'storeShare', 'notifyPortal', 'confirm'], PASSKEY: ['encrypt', 'storeShare', 'notifyPortal', 'confirm'] },
  recover: {
    GDRIVE: ['fetchKey', 'fetchShare', 'decrypt'],
    ICLOUD: ['fetchKey', 'fetchShare', 'decrypt'],
    PASSWORD: ['fetchShare', 'decrypt'],
    PASSKEY: ['fetchShare', 'decrypt'],
  },
  change: {
    // Drive makes the new key file beside the first reads; iCloud after opening the backup.
    GDRIVE: ['fetchKey', 'fetchShare', 'storeKey', 'decrypt', 'encrypt', 'storeShare', 'checkStorage', 'confirm', 'removeOldKeys'],
    ICLOUD: ['fetchKey', 'fetchShare', 'decrypt', 'encrypt', 'storeKey', 'storeShare', 'checkStorage', 'confirm', 'removeOldKeys'],
    PASSWORD: ['fetchShare', 'decrypt', 'encrypt', 'storeShare', 'confirm'],
    PASSKEY: ['fetchShare', 'decrypt', 'encrypt', 'storeShare', 'confirm'],
  },
};
// The change form's button, per method.
const CHANGE_ACTIONS = { GDRIVE: 'New key', ICLOUD: 'New key', PASSWORD: 'Change password', PASSKEY: 'Move to a new passkey' };

// While the browser shows (or should show) its passkey prompt.
const PASSKEY_WAIT = 'Waiting for your passkey: answer the browser\'s passkey prompt (a window, or a notification on your phone). Cancelling it stops here and changes nothing.';

// What a user can do about each error code the package raises (docs/BROWSER.md,
// "Error codes"); a function of the method where the words depend on it.
const ERROR_HINTS = {
  INVALID_INPUT: 'The page called the backup module wrongly (a bug in this demo).',
  NETWORK: 'A service could not be reached. Check the connection and try again.',
  BAD_RESPONSE: 'A service answered something this page does not understand. Check the service addresses.',
  RANDOMNESS_UNAVAILABLE: 'This browser could not make random numbers, so no key could be made.',
  WEBCRYPTO_UNAVAILABLE: 'This browser offers no encryption here: open the page over https or on localhost.',
  NOT_AN_ENVELOPE: 'What the server holds for this method is not a backup this page can read.',
  UNSUPPORTED_VERSION: 'This backup was made by a newer version of the backup module. Update the page.',
  MALFORMED_ENVELOPE: 'The backup on the server is damaged. Back up again.',
  MALFORMED_KEY: (m) => `The key in ${place(m)} is damaged. Back up again.`,
  CANNOT_DECRYPT: (m) => {
    const from = { GDRIVE: 'from Google Drive', ICLOUD: 'from iCloud', PASSKEY: 'from your passkey' }[m] ?? '(from Google Drive, iCloud, or your passkey)';
    return `The key ${from} does not open the backup on the server.`;
  },
  WRONG_PASSWORD: 'That password does not open this backup. Check it and try again.',
  BACKUP_NOT_FOUND: 'There is no backup with this method yet.',
  KEY_NOT_FOUND: (m) => (m === 'ICLOUD' ? 'No backup key was found in this iCloud account.' : 'No backup key was found in this Google Drive.'),
  DRIVE_TOKEN_UNAVAILABLE: 'Google sign-in was cancelled or failed.',
  DRIVE_UNAUTHENTICATED: 'Google sign-in expired. Sign in again.',
  DRIVE_PERMISSION_DENIED: 'This app may not write to your Google Drive. Sign in again and allow access.',
  DRIVE_QUOTA_EXCEEDED: 'Your Google Drive is full.',
  DRIVE_NOT_FOUND: 'The key file disappeared from Google Drive.',
  DRIVE_RATE_LIMITED: 'Google Drive is busy (rate limit). Try again in a moment.',
  DRIVE_UNAVAILABLE: 'Google Drive is not answering. Your previous backup is untouched; try again in a moment.',
  DRIVE_ERROR: 'Google Drive refused the request.',
  STORAGE_CHECK_FAILED: (m) => `The key read back from ${place(m)} was not the one written. Your previous backup is untouched.`,
  ICLOUD_TOKEN_UNAVAILABLE: 'The iCloud sign-in was cancelled or did not finish. Try again and sign in with your Apple ID.',
  ICLOUD_UNAUTHENTICATED: 'iCloud did not accept your sign-in (it expired, or you were signed out). Try again and sign in to iCloud when asked.',
  ICLOUD_QUOTA_EXCEEDED: 'Your iCloud storage is full. Free some space in iCloud, then try again; your previous backup is untouched.',
  ICLOUD_NOT_FOUND: "iCloud could not find the backup key, or this app's iCloud container.",
  ICLOUD_RATE_LIMITED: 'iCloud asked to slow down (rate limit) and kept asking after the waits it named. Try again in a minute.',
  ICLOUD_UNAVAILABLE: 'iCloud is not answering. Your previous backup is untouched; try again in a moment.',
  ICLOUD_ERROR: "iCloud refused the request: this app's iCloud set-up (container, record type or API token) may be wrong.",
  UNAUTHENTICATED: 'The backup server did not accept your session.',
  ORIGIN_NOT_ALLOWED: 'The backup server does not serve this page\'s address.',
  NOT_CURRENT: 'Another backup of this method ran at the same time. Try again.',
  PAYLOAD_TOO_LARGE: 'The backup is too large for the server.',
  CLIENT_MISMATCH: 'The backup server answered for another wallet: the session does not belong to this wallet.',
  SERVER_RATE_LIMITED: 'The backup server is busy (too many requests). Try again in a minute.',
  SERVER_REJECTED: 'The backup server refused the request.',
  SERVER_UNAVAILABLE: 'The backup server is not answering. Try again in a moment.',
  PORTAL_UNAUTHENTICATED: 'Portal did not accept your session.',
  PORTAL_RATE_LIMITED: 'Portal is busy (too many requests). Try again in a minute.',
  PORTAL_REJECTED: 'Portal refused the update.',
  PORTAL_UNAVAILABLE: 'Portal is not answering. Try again in a moment.',
  PASSKEY_PRF_UNSUPPORTED: 'This browser or passkey cannot derive a backup key. Use Google Drive or a password instead.',
  PASSKEY_CANCELLED: 'The passkey prompt was cancelled, or the backup\'s passkey is not on this device.',
  PASSKEY_FAILED: 'The browser refused to use a passkey for this page.',
  PASSKEY_TIMEOUT: 'Nobody answered the passkey prompt in time. Try again.',
};

/** The hint for an error code, in the words of `method`'s backup. */
function hintFor(code, method) {
  const hint = ERROR_HINTS[code];
  return typeof hint === 'function' ? hint(method) : hint;
}

let config;
let client; // Portal's GET /api/v3/clients/me answer
let drive; // { mode, label, getDriveToken, prepare() }
let icloud; // { label, options, prepare(), showStepsIn() }
let busy = false;
// The methods the server lists a backup for, as last shown.
let listedMethods = [];

const generationKey = () => `demo-wallet:${client.id}:generation`;
const generation = () => Number(localStorage.getItem(generationKey()) ?? '0');
// The passkey of the last passkey backup or recovery, so the next backup
// uses it instead of making another one.
const passkeyKey = () => `demo-wallet:${client.id}:passkey`;

async function deviceBackup(method) {
  return clientBackupFor(client, method, generation());
}

function moduleOptions(method, extra = {}) {
  return {
    method,
    clientId: client.id,
    custodianId: client.custodian?.id,
    portalToken: config.portalToken,
    serverUrl: location.origin,
    portalApiUrl: config.portalApiUrl,
    driveApiUrl: drive.apiUrl,
    getDriveToken: drive.getDriveToken,
    icloud: icloud.options,
    ...extra,
  };
}

/**
 * Sign-ins a method needs, started in the click itself (Google's consent
 * window and iCloud's sign-in window are popups, which browsers open only
 * then). iCloud's sign-in step shows in `box`.
 */
function prepare(method, box) {
  icloud.showStepsIn(box);
  const ready = Promise.all([drive.prepare(method), icloud.prepare(method)]);
  ready.catch(() => {}); // awaited later, or not at all when no backup needs it
  return ready;
}

// ---- rendering ---------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function time(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

async function renderWallet() {
  $('#client-id').textContent = client.id;
  // Lets password managers file the backup password under this wallet.
  document.querySelectorAll('input.account').forEach((input) => (input.value = client.id));
  $('#address').textContent = client.metadata?.namespaces?.eip155?.address ?? '—';
  $('#custodian').textContent = client.custodian?.name ?? client.custodian?.id ?? '—';
  const prints = await fingerprints(await deviceBackup('GDRIVE'));
  $('#device-shares').replaceChildren(
    ...Object.entries(prints).map(([curve, print]) =>
      el('li', {}, el('span', { class: 'curve' }, curve), el('code', { class: 'fingerprint' }, print)),
    ),
  );
  const gen = generation();
  $('#generation').textContent = gen === 0 ? 'Original shares' : `Shares regenerated ${gen} time${gen === 1 ? '' : 's'}`;
}

// Each steps list keeps how it names its steps (the flow and the method).
const stepNames = new WeakMap();

function renderSteps(list, steps, label) {
  stepNames.set(list, label);
  list.replaceChildren(
    ...steps.map((step) => el('li', { 'data-step': step, class: 'pending' }, label(step))),
  );
}

function onProgress(list) {
  return ({ step, phase }) => {
    let item = list.querySelector(`[data-step="${step}"]`);
    if (!item) {
      item = el('li', { 'data-step': step }, (stepNames.get(list) ?? labeler(STEP_LABELS))(step));
      list.append(item);
    }
    item.className = { start: 'running', end: 'done', error: 'failed' }[phase] ?? item.className;
  };
}

// Steps a flow did not need (no old key files to remove) stay pending.
function markSkipped(list) {
  for (const item of list.querySelectorAll('li.pending')) {
    item.className = 'skipped';
    item.append(' — not needed');
  }
}

/**
 * An error in a box: `title`, then what the user can do (the code's hint
 * in `method`'s words, `hints` first), the step it failed at (`label`
 * names it), and `after`, a last line.
 */
function showError(box, title, error, { method, label = labeler(STEP_LABELS, method), hints = {}, after } = {}) {
  const hint = hints[error?.code] ?? hintFor(error?.code, method);
  const step = error?.step && label(error.step);
  box.replaceChildren(
    el(
      'div',
      { class: 'alert error', role: 'alert' },
      el('strong', {}, title),
      el('p', {}, hint ?? sentence(error?.message ?? String(error))),
      step ? el('p', { class: 'small' }, `Failed at: ${step}.`) : null,
      after ? el('p', { class: 'small' }, after) : null,
      hint && error?.message ? el('p', { class: 'small muted' }, `Details: ${sentence(error.message)}`) : null,
    ),
  );
}

function sentence(text) {
  const t = String(text).trim();
  return t ? t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : 'Something went wrong.';
}

// What the user reads for an error: its hint, else its message as a sentence.
const errorText = (error, method) => hintFor(error.code, method) ?? sentence(error.message);

async function renderBackups() {
  const body = $('#backup-list');
  try {
    const backups = (await listBackups(moduleOptions(undefined))).sort((a, b) => byMethod(a.backupMethod, b.backupMethod));
    listedMethods = backups.map((b) => b.backupMethod);
    if (backups.length === 0) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No backups yet.')));
    } else {
      body.replaceChildren(
        ...backups.map((b) => {
          const remove = el('button', { type: 'button', class: 'link danger' }, 'Delete');
          remove.addEventListener('click', () => removeBackup(b.backupMethod));
          const actions = el('td', { class: 'actions' });
          if (CHANGE_ACTIONS[b.backupMethod]) {
            const change = el('button', { type: 'button', class: 'link' }, b.backupMethod === 'PASSWORD' ? 'Change password' : 'Change key');
            change.addEventListener('click', () => chooseChange(b.backupMethod));
            actions.append(change);
          }
          actions.append(remove);
          return el(
            'tr',
            { 'data-method': b.backupMethod },
            el('td', { class: 'method' }, methodLabel(b.backupMethod)),
            el('td', { 'data-label': 'Backed up', class: 'date' }, time(b.createdAt)),
            el('td', { 'data-label': 'Portal told' }, b.portalNotified ? el('span', { class: 'badge ok' }, 'Yes') : el('span', { class: 'badge warn' }, 'Not yet')),
            el('td', { 'data-label': 'Status' }, b.confirmed ? 'Complete' : el('span', { class: 'badge warn' }, 'Unfinished (previous kept)')),
            actions,
          );
        }),
      );
    }
  } catch (error) {
    body.replaceChildren(
      el('tr', {}, el('td', { colspan: '5', class: 'error-text' }, errorText(error))),
    );
  }
  await renderCustodian();
}

// The custodian half never passes through the browser: Portal posts it to
// this app's server, which answers which methods it holds and since when
// (GET /v1/custodian-backups, listCustodianBackups), never the share.
async function renderCustodian() {
  const list = $('#custodian-list');
  try {
    const stored = await listCustodianBackups(moduleOptions(undefined));
    if (stored.length === 0) {
      list.replaceChildren(el('li', { class: 'muted' }, 'Nothing stored yet: Portal sends its half after a backup.'));
      return;
    }
    list.replaceChildren(
      ...stored.sort((a, b) => byMethod(a.backupMethod, b.backupMethod)).map((b) =>
        el(
          'li',
          { 'data-method': b.backupMethod },
          el('span', { class: 'method' }, methodLabel(b.backupMethod)),
          el('span', { class: 'badge ok' }, 'Stored on the server'),
          el('span', { class: 'muted small' }, `received ${time(b.receivedAt)}`),
        ),
      ),
    );
  } catch (error) {
    list.replaceChildren(el('li', { class: 'error-text' }, errorText(error)));
  }
}

// What checkBackup's problems mean to a user; recovery's codes use ERROR_HINTS.
const PROBLEM_HINTS = {
  BACKUP_UNCONFIRMED: 'The newest backup did not finish; the last complete one is kept and recovers.',
  PORTAL_NOT_NOTIFIED: 'Portal was not told this backup is stored. Back up again.',
  CUSTODIAN_BACKUP_MISSING: "Portal's half of this backup is not on the server yet.",
  BACKUP_OUTDATED: 'It recovers, but to the shares of an older backup, not the ones this device holds now ("Generate new shares" changed them). Back up again to save the current ones.',
  WRONG_PASSWORD: 'The password you typed is not this backup\'s password, so it was not opened. That says nothing against the backup: check again with the password it was made with.',
};

// One word for a check: what recovery would do with this backup now.
function verdict(check) {
  const problems = check.problems;
  if (problems.includes('WRONG_PASSWORD')) return el('span', { class: 'badge warn' }, 'Wrong password');
  if (check.recoverable) return el('span', { class: 'badge ok' }, 'Recoverable');
  // Recovery opens it and says "recovered from an older backup": the same words here.
  if (problems.includes('BACKUP_OUTDATED') && problems.every((p) => p === 'BACKUP_OUTDATED' || p === 'BACKUP_UNCONFIRMED')) {
    return el('span', { class: 'badge warn' }, 'Recoverable: an older backup');
  }
  return el('span', { class: 'badge bad' }, 'Not recoverable');
}

/** One method's line in the Check backups panel; `ready` is its sign-in. */
async function checkRow(method, { password, ready, note } = {}) {
  const label = el('span', { class: 'method' }, METHOD_NAMES[method] ?? method);
  try {
    await ready;
    const check = await checkBackup({ ...moduleOptions(method, { password }), clientBackup: await deviceBackup(method) });
    return el(
      'li',
      { 'data-method': method, 'data-problems': check.problems.join(' ') },
      label,
      verdict(check),
      check.createdAt ? el('span', { class: 'muted small date' }, `backup from ${time(check.createdAt)}`) : null,
      ...check.problems.map((code) => el('p', { class: 'small' }, PROBLEM_HINTS[code] ?? hintFor(code, method) ?? code)),
      note ? el('p', { class: 'small muted' }, note) : null,
    );
  } catch (error) {
    return el('li', { 'data-method': method }, label, el('span', { class: 'error-text' }, errorText(error, method)));
  }
}

/** Puts `row` in the Check backups list in its method's place, replacing an older one. */
function placeCheckRow(row) {
  const list = $('#check-list');
  const method = row.dataset.method;
  const rows = [...list.querySelectorAll('li[data-method]')];
  const old = rows.find((r) => r.dataset.method === method);
  if (old) old.replaceWith(row);
  else if (rows.length === 0) list.replaceChildren(row);
  else {
    const next = rows.find((r) => byMethod(r.dataset.method, method) > 0);
    if (next) next.before(row);
    else list.append(row);
  }
}

// ---- actions -----------------------------------------------------------

// The ticked methods with a backup on the server, checked side by side.
// Only what the user ticked: the passkey backup (unticked at first) opens a
// passkey prompt, so a check of the password alone never asks for a passkey.
async function checkBackups(event) {
  event.preventDefault();
  if (busy) return;
  const { password } = methodForm(event.target);
  const ticked = new FormData(event.target).getAll('check');
  const list = $('#check-list');
  const box = $('#check-outcome');
  box.replaceChildren();
  // Sign-ins need the click's user gesture: ask now for a ticked method with
  // a backup listed (Google's token model; iCloud only if not signed in).
  const ready = {};
  for (const method of ['GDRIVE', 'ICLOUD']) {
    if (ticked.includes(method) && (method === 'GDRIVE' || listedMethods.includes(method))) ready[method] = prepare(method, box);
  }
  await runExclusive($('#check-button'), async () => {
    list.replaceChildren(el('li', { class: 'muted' }, 'Checking…'));
    try {
      const methods = (await listBackups(moduleOptions(undefined))).map((b) => b.backupMethod).sort(byMethod);
      if (methods.length === 0) {
        list.replaceChildren(el('li', { class: 'muted' }, 'No backups to check yet.'));
        return;
      }
      if (ticked.includes('PASSKEY') && methods.includes('PASSKEY')) {
        list.replaceChildren(el('li', { class: 'muted' }, 'Checking…'), el('li', { class: 'muted small', 'data-wait': 'passkey' }, PASSKEY_WAIT));
      }
      icloud.showStepsIn(box);
      const rows = await Promise.all(methods.map(async (method) => {
        const label = el('span', { class: 'method' }, METHOD_NAMES[method] ?? method);
        if (!ticked.includes(method)) {
          return el('li', { 'data-method': method }, label, el('span', { class: 'muted small' }, `Not checked: tick ${METHOD_NAMES[method] ?? method} above to check it.`));
        }
        if (method === 'PASSWORD' && !password) {
          return el('li', { 'data-method': method }, label, el('span', { class: 'muted small' }, 'Enter the backup password to check it.'));
        }
        return checkRow(method, { password, ready: ready[method] });
      }));
      list.replaceChildren(...rows);
    } catch (error) {
      list.replaceChildren(el('li', { class: 'error-text' }, errorText(error)));
    }
  });
}

function methodForm(form) {
  const data = new FormData(form);
  return {
    method: data.get('method'),
    password: data.get('password') ?? '',
    confirm: data.get('confirm') ?? '',
    newPassword: data.get('newPassword') ?? '',
  };
}

// A new attempt, or another method chosen: the last one's steps and outcome go.
function clearOutput(steps, box) {
  steps.replaceChildren();
  box.replaceChildren();
}

// The passkey hint while a step that asks for the passkey runs.
function withPasskeyHint(method, promptSteps, box, progress) {
  if (method !== 'PASSKEY') return progress;
  return (event) => {
    progress(event);
    if (!promptSteps.includes(event.step)) return;
    if (event.phase === 'start') box.replaceChildren(el('p', { class: 'hint', role: 'status', 'data-wait': 'passkey' }, PASSKEY_WAIT));
    else box.querySelector('[data-wait]')?.remove();
  };
}

async function runExclusive(button, work) {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = 'true';
  document.querySelectorAll('form button, #rotate, #backup-list button').forEach((b) => (b.disabled = true));
  const label = button.textContent;
  button.textContent = 'Working…';
  try {
    await work();
  } finally {
    // A button whose words follow a choice made meanwhile keeps them in data-label.
    button.textContent = button.dataset.label ?? label;
    document.querySelectorAll('form button, #rotate, #backup-list button').forEach((b) => (b.disabled = false));
    busy = false;
    delete document.body.dataset.busy;
  }
}

/** Why a new password cannot be used, as [title, text], or null. */
function newPasswordProblem(password, confirm, what = 'backup password') {
  if (!password) return [`Enter a ${what}`, 'A password backup needs a password of at least 8 characters'];
  if (password.length < 8) return ['Choose a longer password', `A ${what} needs at least 8 characters`];
  if (password !== confirm) return ['The two passwords differ', 'Type the same password in both fields: nothing can reset it later'];
  return null;
}

async function backup(event) {
  event.preventDefault();
  const form = event.target;
  const { method, password, confirm } = methodForm(form);
  const box = $('#backup-outcome');
  const steps = $('#backup-steps');
  if (busy) return;
  clearOutput(steps, box);
  if (method === 'PASSWORD') {
    const problem = newPasswordProblem(password, confirm);
    if (problem) {
      showError(box, problem[0], { message: problem[1] });
      return;
    }
  }
  // Google's consent popup and iCloud's sign-in must open from the click itself.
  const ready = prepare(method, box);
  await runExclusive($('#backup-button'), async () => {
    const label = labeler(STEP_LABELS, method);
    renderSteps(steps, STEPS.backup[method], label);
    try {
      await ready;
      const clientBackup = await deviceBackup(method);
      const credentialId = method === 'PASSKEY' ? localStorage.getItem(passkeyKey()) ?? undefined : undefined;
      const progress = withPasskeyHint(method, ['encrypt'], box, onProgress(steps));
      const result = await backupWallet(moduleOptions(method, { clientBackup, password, credentialId, onProgress: progress }));
      if (result.credentialId) localStorage.setItem(passkeyKey(), result.credentialId);
      // Stored: the password leaves the page (the password manager may keep it).
      form.querySelectorAll('input[type="password"]').forEach((input) => (input.value = ''));
      markSkipped(steps);
      const prints = await fingerprints(clientBackup);
      box.replaceChildren(
        el(
          'div',
          { class: 'alert success', role: 'status' },
          el('strong', {}, `Backed up with ${METHOD_NAMES[method]}`),
          el('p', {}, `${time(result.createdAt)}. ${result.portalNotified ? 'Portal was told the backup is stored.' : 'Portal could not be told yet; it will be retried.'}`),
          el('p', { class: 'small muted' }, `Backed-up shares: ${Object.entries(prints).map(([c, p]) => `${c} ${p}`).join(' · ')}`),
        ),
      );
    } catch (error) {
      // The remembered passkey may be gone from this device: the next backup makes a new one.
      if (error?.code === 'PASSKEY_CANCELLED') localStorage.removeItem(passkeyKey());
      showError(box, 'Backup failed', error, { method, label });
    }
    await renderBackups();
    // Portal delivers its half after it is told, on its own time: look again
    // for a little while.
    for (const wait of [500, 1000, 2000, 4000]) setTimeout(renderCustodian, wait);
  });
}

async function recover(event) {
  event.preventDefault();
  const { method, password } = methodForm(event.target);
  const box = $('#recover-outcome');
  const steps = $('#recover-steps');
  if (busy) return;
  clearOutput(steps, box);
  if (method === 'PASSWORD' && !password) {
    showError(box, 'Enter your backup password', { message: 'The password backup needs the password it was made with' });
    return;
  }
  const ready = prepare(method, box);
  await runExclusive($('#recover-button'), async () => {
    const label = labeler(STEP_LABELS, method);
    renderSteps(steps, STEPS.recover[method], label);
    try {
      await ready;
      const progress = withPasskeyHint(method, ['decrypt'], box, onProgress(steps));
      const recovered = await recoverWallet(moduleOptions(method, { password, onProgress: progress }));
      if (recovered.credentialId) localStorage.setItem(passkeyKey(), recovered.credentialId);
      markSkipped(steps);
      const got = await fingerprints(recovered.clientBackup);
      const want = await fingerprints(await deviceBackup(method));
      const same = Object.keys(want).length === Object.keys(got).length && Object.entries(want).every(([c, p]) => got[c] === p);
      const rows = Object.entries(got).map(([curve, print]) =>
        el(
          'li',
          { 'data-curve': curve },
          el('span', { class: 'curve' }, curve),
          el('code', { class: 'fingerprint' }, print),
          got[curve] === want[curve]
            ? el('span', { class: 'badge ok' }, 'matches this device')
            : el('span', { class: 'badge warn' }, 'differs from this device'),
        ),
      );
      box.replaceChildren(
        el(
          'div',
          { class: `alert ${same ? 'success' : 'warning'}`, role: 'status' },
          el('strong', {}, same ? 'Wallet recovered: the recovered shares equal the backed-up ones' : 'Wallet recovered from an older backup'),
          el('p', {}, `Backup from ${time(recovered.createdAt)} (${METHOD_NAMES[method]}).`),
          recovered.version === 'previous'
            ? el('p', {}, 'The newest backup did not finish, so the last complete one was used.')
            : null,
          same ? null : el('p', {}, 'These are the shares from that backup, not the ones this device holds now.'),
          el('ul', { class: 'shares' }, ...rows),
        ),
      );
    } catch (error) {
      showError(box, 'Recovery failed', error, { method, label });
    }
  });
}

// ---- changing the key ----------------------------------------------------

// What a key change that failed left behind, in the user's words.
const CHANGE_HINTS = {
  WRONG_PASSWORD: 'The current password you typed does not open this backup, so nothing was changed. The backup still opens with its current password.',
};

/** The change form set to `method`, scrolled into view (the backups list's "Change key"). */
function chooseChange(method) {
  const form = $('#change-form');
  const radio = form.querySelector(`input[name="method"][value="${method}"]`);
  if (!radio || radio.disabled) return;
  radio.checked = true;
  form.dispatchEvent(new Event('change'));
  form.closest('section').scrollIntoView({ behavior: 'smooth', block: 'start' });
  (form.querySelector('.password:not([hidden]) input[type="password"]') ?? form.querySelector('button[type="submit"]')).focus({ preventScroll: true });
}

/** What the change did, in plain words: the new version, the old key, Portal. */
function changeOutcome(method, result, removeFailed) {
  const title = {
    PASSWORD: 'Password changed',
    GDRIVE: 'New key saved to Google Drive',
    ICLOUD: 'New key saved to iCloud',
    PASSKEY: 'Backup moved to a new passkey',
  }[method];
  const old = {
    PASSWORD: 'The old password no longer opens anything on the server.',
    PASSKEY: 'The old passkey no longer opens anything on the server (it stays in your passkey manager: a page cannot delete passkeys).',
  }[method] ?? (removeFailed
    ? `The old key could not be removed from ${place(method)} yet; it opens nothing the server still holds.`
    : result.removedKeyFiles > 0
      ? `The old key was removed from ${place(method)} (${result.removedKeyFiles} ${method === 'ICLOUD' ? 'record' : 'file'}${result.removedKeyFiles === 1 ? '' : 's'}).`
      : `There was no old key left in ${place(method)} to remove.`);
  return el(
    'div',
    { class: 'alert success', role: 'status' },
    el('strong', {}, title),
    el('p', { 'data-fact': 'version' }, `New version of the ${METHOD_NAMES[method]} backup, stored ${time(result.createdAt)}: the same backup shares, sealed with the new ${keyWord(method)}.`),
    el('p', { 'data-fact': 'old-key' }, old),
    el('p', { 'data-fact': 'portal' }, 'Portal was not asked for anything: the backup share pair is unchanged, so no new MPC backup was needed.'),
    method === 'PASSKEY' ? el('p', { class: 'small' }, 'Check backups with Passkey ticked asks the new passkey to open it.') : null,
  );
}

async function changeKey(event) {
  event.preventDefault();
  const form = event.target;
  const { method, password, newPassword, confirm } = methodForm(form);
  const box = $('#change-outcome');
  const steps = $('#change-steps');
  if (busy) return;
  clearOutput(steps, box);
  if (method === 'PASSWORD') {
    const problem = !password
      ? ['Enter the current password', 'The backup opens only with the password it was made with']
      : newPasswordProblem(newPassword, confirm, 'new password') ??
        (newPassword === password ? ['The new password is the current one', 'Choose a different new password'] : null);
    if (problem) {
      showError(box, problem[0], { message: problem[1] });
      return;
    }
  }
  const ready = prepare(method, box);
  await runExclusive($('#change-button'), async () => {
    const label = labeler(CHANGE_LABELS, method);
    renderSteps(steps, STEPS.change[method], label);
    let removeFailed = false;
    try {
      await ready;
      const progress = withPasskeyHint(method, ['decrypt', 'encrypt'], box, onProgress(steps));
      const onStep = (step) => {
        if (step.step === 'removeOldKeys' && step.phase === 'error') removeFailed = true;
        progress(step);
      };
      // PASSKEY: no credentialId, so the backup moves to a new passkey.
      const result = await changeBackupKey(moduleOptions(method, {
        ...(method === 'PASSWORD' ? { password, newPassword } : {}),
        onProgress: onStep,
      }));
      if (result.credentialId) localStorage.setItem(passkeyKey(), result.credentialId);
      form.querySelectorAll('input[type="password"]').forEach((input) => (input.value = ''));
      markSkipped(steps);
      box.replaceChildren(changeOutcome(method, result, removeFailed));
      // The Check backups panel, for this method, right away (a passkey would prompt again: not unasked).
      if (method !== 'PASSKEY') {
        placeCheckRow(el('li', { 'data-method': method }, el('span', { class: 'method' }, METHOD_NAMES[method]), el('span', { class: 'muted small' }, 'Checking…')));
        icloud.showStepsIn($('#check-outcome'));
        placeCheckRow(await checkRow(method, {
          password: method === 'PASSWORD' ? newPassword : undefined,
          ready: prepare(method, $('#check-outcome')),
          note: 'Checked right after the key change.',
        }));
      }
    } catch (error) {
      if (error?.code === 'PASSKEY_CANCELLED') localStorage.removeItem(passkeyKey());
      const title = method === 'PASSWORD' ? 'Password not changed' : 'Key not changed';
      showError(box, title, error, {
        method, label, hints: CHANGE_HINTS,
        after: error?.code === 'WRONG_PASSWORD' ? null : `Until the server confirms a new version, the current ${keyWord(method)} keeps opening the backup.`,
      });
    }
    await renderBackups();
  });
}

async function removeBackup(method) {
  if (busy || !confirm(`Delete the ${METHOD_NAMES[method] ?? method} backup?`)) return;
  const box = $('#backups-outcome');
  box.replaceChildren();
  const ready = prepare(method, box);
  await runExclusive($('#refresh'), async () => {
    try {
      await ready;
      await deleteBackup(moduleOptions(method));
    } catch (error) {
      showError(box, 'Could not delete the backup', error, { method });
    }
    await renderBackups();
  });
}

function wireMethodForm(form, steps, box, onMethod = () => {}) {
  let method = methodForm(form).method;
  const toggle = () => {
    const password = form.querySelector('.password');
    password.hidden = methodForm(form).method !== 'PASSWORD';
    onMethod(methodForm(form).method);
  };
  form.addEventListener('change', () => {
    toggle();
    const now = methodForm(form).method;
    // Another method: the last method's steps and outcome no longer apply.
    if (now !== method && !busy) clearOutput(steps, box);
    method = now;
  });
  toggle();
}

function wireCheckForm(form) {
  const toggle = () => {
    form.querySelector('.password').hidden = !new FormData(form).getAll('check').includes('PASSWORD');
  };
  form.addEventListener('change', toggle);
  toggle();
}

async function main() {
  try {
    config = await (await fetch('demo-config.json')).json();
    await init();
    const response = await fetch(`${config.portalApiUrl}/api/v3/clients/me`, {
      headers: { Authorization: `Bearer ${config.portalToken}` },
    });
    if (!response.ok) throw new Error(`Portal did not accept the demo session (HTTP ${response.status})`);
    client = await response.json();
    drive = await connectDrive(config);
    icloud = connectICloud(config);
  } catch (error) {
    const box = $('#load-error');
    box.hidden = false;
    box.textContent = `The demo could not start: ${sentence(error.message)}`;
    $('#environment').textContent = 'Offline';
    return;
  }
  $('#environment').textContent = `${drive.label} · ${icloud.label} · Portal: ${config.portalLabel}`;
  $('#drive-note').textContent = drive.note;
  $('#icloud-note').textContent = icloud.note;
  wireMethodForm($('#backup-form'), $('#backup-steps'), $('#backup-outcome'));
  wireMethodForm($('#recover-form'), $('#recover-steps'), $('#recover-outcome'));
  wireMethodForm($('#change-form'), $('#change-steps'), $('#change-outcome'), (method) => {
    const button = $('#change-button');
    button.dataset.label = CHANGE_ACTIONS[method];
    if (!busy) button.textContent = CHANGE_ACTIONS[method];
  });
  wireCheckForm($('#check-form'));
  // WebAuthn takes a host name, not an IP address, as relying party id.
  if (/^[\d.]+$|:/.test(location.hostname)) {
    const here = `${location.protocol}//localhost:${location.port}/`;
    document.querySelectorAll('input[value="PASSKEY"]').forEach((input) => {
      input.disabled = true;
      const note = input.closest('label').querySelector('small');
      if (note) note.textContent = `Passkeys need a host name: open ${here}`;
    });
  }
  $('#backup-form').addEventListener('submit', backup);
  $('#recover-form').addEventListener('submit', recover);
  $('#check-form').addEventListener('submit', checkBackups);
  $('#change-form').addEventListener('submit', changeKey);
  $('#refresh').addEventListener('click', () => runExclusive($('#refresh'), renderBackups));
  $('#rotate').addEventListener('click', async () => {
    localStorage.setItem(generationKey(), String(generation() + 1));
    await renderWallet();
  });
  await renderWallet();
  await renderBackups();
  document.body.dataset.ready = 'true';
}

main();
