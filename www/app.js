// The demo wallet page: backs up and recovers a made-up Portal wallet with
// the portal-backup npm package, against this origin's Worker.
import init, { backupWallet, recoverWallet, checkBackup, listBackups, listCustodianBackups, deleteBackup } from 'portal-backup';
import { clientBackupFor, fingerprints } from './wallet.js';
import { connectDrive } from './drive-auth.js';

const $ = (selector) => document.querySelector(selector);

const STEP_LABELS = {
  encrypt: 'Encrypt the backup share',
  storeKey: 'Save the key to Google Drive',
  storeShare: 'Send the encrypted share to the server',
  checkStorage: 'Check the key in Google Drive',
  notifyPortal: 'Tell Portal the backup is stored',
  confirm: 'Confirm the backup with the server',
  removeOldKeys: 'Remove old keys from Google Drive',
  fetchKey: 'Read the key from Google Drive',
  fetchShare: 'Fetch the encrypted share from the server',
  decrypt: 'Decrypt the backup share',
};
const STEPS = {
  backup: {
    GDRIVE: ['encrypt', 'storeKey', 'storeShare', 'checkStorage', 'notifyPortal', 'confirm', 'removeOldKeys'],
    PASSWORD: ['encrypt', 'storeShare', 'notifyPortal', 'confirm'],
    PASSKEY: ['encrypt', 'storeShare', 'notifyPortal', 'confirm'],
  },
  recover: { GDRIVE: ['fetchKey', 'fetchShare', 'decrypt'], PASSWORD: ['fetchShare', 'decrypt'], PASSKEY: ['fetchShare', 'decrypt'] },
};
const METHOD_NAMES = { GDRIVE: 'Google Drive', PASSWORD: 'Password', PASSKEY: 'Passkey' };
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
// While the browser shows (or should show) its passkey prompt.
const PASSKEY_WAIT = 'Waiting for your passkey: answer the browser\'s passkey prompt (a window, or a notification on your phone). Cancelling it stops here and changes nothing.';

// What a user can do about each error code the package raises.
const ERROR_HINTS = {
  WRONG_PASSWORD: 'That password does not open this backup. Check it and try again.',
  CANNOT_DECRYPT: 'The key (from Google Drive, or your passkey) does not open the backup on the server.',
  BACKUP_NOT_FOUND: 'There is no backup with this method yet.',
  KEY_NOT_FOUND: 'No backup key was found in this Google Drive.',
  DRIVE_UNAVAILABLE: 'Google Drive is not answering. Your previous backup is untouched; try again in a moment.',
  DRIVE_RATE_LIMITED: 'Google Drive is busy (rate limit). Try again in a moment.',
  DRIVE_QUOTA_EXCEEDED: 'Your Google Drive is full.',
  DRIVE_PERMISSION_DENIED: 'This app may not write to your Google Drive. Sign in again and allow access.',
  DRIVE_UNAUTHENTICATED: 'Google sign-in expired. Sign in again.',
  DRIVE_TOKEN_UNAVAILABLE: 'Google sign-in was cancelled or failed.',
  DRIVE_NOT_FOUND: 'The key file disappeared from Google Drive.',
  STORAGE_CHECK_FAILED: 'The key read back from Google Drive was not the one written. Your previous backup is untouched.',
  NETWORK: 'A service could not be reached. Check the connection and try again.',
  SERVER_UNAVAILABLE: 'The backup server is not answering. Try again in a moment.',
  UNAUTHENTICATED: 'The backup server did not accept your session.',
  PORTAL_UNAVAILABLE: 'Portal is not answering. Try again in a moment.',
  PAYLOAD_TOO_LARGE: 'The backup is too large for the server.',
  PASSKEY_PRF_UNSUPPORTED: 'This browser or passkey cannot derive a backup key. Use Google Drive or a password instead.',
  PASSKEY_CANCELLED: 'The passkey prompt was cancelled, or the backup\'s passkey is not on this device.',
};

let config;
let client; // Portal's GET /api/v3/clients/me answer
let drive; // { mode, label, getDriveToken, prepare() }
let busy = false;

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
    ...extra,
  };
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

function renderSteps(list, steps) {
  list.replaceChildren(
    ...steps.map((step) => el('li', { 'data-step': step, class: 'pending' }, STEP_LABELS[step])),
  );
}

function onProgress(list) {
  return ({ step, phase }) => {
    let item = list.querySelector(`[data-step="${step}"]`);
    if (!item) {
      item = el('li', { 'data-step': step }, STEP_LABELS[step] ?? step);
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

function showError(box, title, error) {
  const hint = ERROR_HINTS[error?.code];
  const step = error?.step && STEP_LABELS[error.step];
  box.replaceChildren(
    el(
      'div',
      { class: 'alert error', role: 'alert' },
      el('strong', {}, title),
      el('p', {}, hint ?? sentence(error?.message ?? String(error))),
      step ? el('p', { class: 'small' }, `Failed at: ${step}.`) : null,
      hint && error?.message ? el('p', { class: 'small muted' }, `Details: ${sentence(error.message)}`) : null,
    ),
  );
}

function sentence(text) {
  const t = String(text).trim();
  return t ? t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.') : 'Something went wrong.';
}

// What the user reads for an error: its hint, else its message as a sentence.
const errorText = (error) => ERROR_HINTS[error.code] ?? sentence(error.message);

async function renderBackups() {
  const body = $('#backup-list');
  try {
    const backups = (await listBackups(moduleOptions(undefined))).sort((a, b) => byMethod(a.backupMethod, b.backupMethod));
    if (backups.length === 0) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No backups yet.')));
    } else {
      body.replaceChildren(
        ...backups.map((b) => {
          const remove = el('button', { type: 'button', class: 'link' }, 'Delete');
          remove.addEventListener('click', () => removeBackup(b.backupMethod));
          return el(
            'tr',
            { 'data-method': b.backupMethod },
            el('td', { class: 'method' }, methodLabel(b.backupMethod)),
            el('td', { 'data-label': 'Backed up', class: 'date' }, time(b.createdAt)),
            el('td', { 'data-label': 'Portal told' }, b.portalNotified ? el('span', { class: 'badge ok' }, 'Yes') : el('span', { class: 'badge warn' }, 'Not yet')),
            el('td', { 'data-label': 'Status' }, b.confirmed ? 'Complete' : el('span', { class: 'badge warn' }, 'Unfinished (previous kept)')),
            el('td', { class: 'actions' }, remove),
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

// ---- actions -----------------------------------------------------------

// The ticked methods with a backup on the server, checked side by side.
// Only what the user ticked: the passkey backup (unticked at first) opens a
// passkey prompt, so a check of the password alone never asks for a passkey.
async function checkBackups(event) {
  event.preventDefault();
  const { password } = methodForm(event.target);
  const ticked = new FormData(event.target).getAll('check');
  const list = $('#check-list');
  // Google sign-in needs the click's user gesture: ask now, use it if a Drive backup is there.
  const driveReady = ticked.includes('GDRIVE') ? drive.prepare('GDRIVE') : Promise.resolve();
  driveReady.catch(() => {});
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
      const rows = await Promise.all(methods.map(async (method) => {
        const label = el('span', { class: 'method' }, METHOD_NAMES[method] ?? method);
        if (!ticked.includes(method)) {
          return el('li', { 'data-method': method }, label, el('span', { class: 'muted small' }, `Not checked: tick ${METHOD_NAMES[method] ?? method} above to check it.`));
        }
        if (method === 'PASSWORD' && !password) {
          return el('li', { 'data-method': method }, label, el('span', { class: 'muted small' }, 'Enter the backup password to check it.'));
        }
        try {
          if (method === 'GDRIVE') await driveReady;
          const check = await checkBackup({ ...moduleOptions(method, { password }), clientBackup: await deviceBackup(method) });
          return el(
            'li',
            { 'data-method': method, 'data-problems': check.problems.join(' ') },
            label,
            verdict(check),
            check.createdAt ? el('span', { class: 'muted small date' }, `backup from ${time(check.createdAt)}`) : null,
            ...check.problems.map((code) => el('p', { class: 'small' }, PROBLEM_HINTS[code] ?? ERROR_HINTS[code] ?? code)),
          );
        } catch (error) {
          return el('li', { 'data-method': method }, label, el('span', { class: 'error-text' }, errorText(error)));
        }
      }));
      list.replaceChildren(...rows);
    } catch (error) {
      list.replaceChildren(el('li', { class: 'error-text' }, errorText(error)));
    }
  });
}

function methodForm(form) {
  const data = new FormData(form);
  return { method: data.get('method'), password: data.get('password') ?? '', confirm: data.get('confirm') ?? '' };
}

// A new attempt, or another method chosen: the last one's steps and outcome go.
function clearOutput(steps, box) {
  steps.replaceChildren();
  box.replaceChildren();
}

// The passkey hint while the step that asks for the passkey runs.
function withPasskeyHint(method, promptStep, box, progress) {
  if (method !== 'PASSKEY') return progress;
  return (event) => {
    progress(event);
    if (event.step !== promptStep) return;
    if (event.phase === 'start') box.replaceChildren(el('p', { class: 'hint', role: 'status', 'data-wait': 'passkey' }, PASSKEY_WAIT));
    else box.querySelector('[data-wait]')?.remove();
  };
}

async function runExclusive(button, work) {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = 'true';
  document.querySelectorAll('form button, #rotate').forEach((b) => (b.disabled = true));
  const label = button.textContent;
  button.textContent = 'Working…';
  try {
    await work();
  } finally {
    button.textContent = label;
    document.querySelectorAll('form button, #rotate').forEach((b) => (b.disabled = false));
    busy = false;
    delete document.body.dataset.busy;
  }
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
    const problem = !password
      ? ['Enter a backup password', 'A password backup needs a password of at least 8 characters']
      : password.length < 8
        ? ['Choose a longer password', 'A backup password needs at least 8 characters']
        : password !== confirm
          ? ['The two passwords differ', 'Type the same password in both fields: nothing can reset it later']
          : null;
    if (problem) {
      showError(box, problem[0], { message: problem[1] });
      return;
    }
  }
  // Google's consent popup must open from the click itself.
  const ready = drive.prepare(method);
  await runExclusive($('#backup-button'), async () => {
    renderSteps(steps, STEPS.backup[method]);
    try {
      await ready;
      const clientBackup = await deviceBackup(method);
      const credentialId = method === 'PASSKEY' ? localStorage.getItem(passkeyKey()) ?? undefined : undefined;
      const progress = withPasskeyHint(method, 'encrypt', box, onProgress(steps));
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
      showError(box, 'Backup failed', error);
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
  const ready = drive.prepare(method);
  await runExclusive($('#recover-button'), async () => {
    renderSteps(steps, STEPS.recover[method]);
    try {
      await ready;
      const progress = withPasskeyHint(method, 'decrypt', box, onProgress(steps));
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
      showError(box, 'Recovery failed', error);
    }
  });
}

async function removeBackup(method) {
  if (busy || !confirm(`Delete the ${METHOD_NAMES[method] ?? method} backup?`)) return;
  const ready = drive.prepare(method);
  await runExclusive($('#refresh'), async () => {
    try {
      await ready;
      await deleteBackup(moduleOptions(method));
    } catch (error) {
      showError($('#backup-outcome'), 'Could not delete the backup', error);
    }
    await renderBackups();
  });
}

function wireMethodForm(form, steps, box) {
  let method = methodForm(form).method;
  const toggle = () => {
    const password = form.querySelector('.password');
    password.hidden = methodForm(form).method !== 'PASSWORD';
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
  } catch (error) {
    const box = $('#load-error');
    box.hidden = false;
    box.textContent = `The demo could not start: ${sentence(error.message)}`;
    $('#environment').textContent = 'Offline';
    return;
  }
  $('#environment').textContent = `${drive.label} · Portal: ${config.portalLabel}`;
  $('#drive-note').textContent = drive.note;
  wireMethodForm($('#backup-form'), $('#backup-steps'), $('#backup-outcome'));
  wireMethodForm($('#recover-form'), $('#recover-steps'), $('#recover-outcome'));
  wireCheckForm($('#check-form'));
  // WebAuthn takes a host name, not an IP address, as relying party id.
  if (/^[\d.]+$|:/.test(location.hostname)) {
    const here = `${location.protocol}//localhost:${location.port}/`;
    document.querySelectorAll('input[value="PASSKEY"]').forEach((input) => {
      input.disabled = true;
      input.closest('label').querySelector('small').textContent = `Passkeys need a host name: open ${here}`;
    });
  }
  $('#backup-form').addEventListener('submit', backup);
  $('#recover-form').addEventListener('submit', recover);
  $('#check-form').addEventListener('submit', checkBackups);
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
