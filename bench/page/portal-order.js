// Portal's own order of calls for a Google Drive backup and recovery, done
// from a page with fetch and WebCrypto against the same stand-ins and Worker
// as the package: a baseline for bench/walltime.mjs, not shipped code.
//
// The steps, and where they come from:
// - ../shared/seed/000_8bf63b88c9dae232.txt (Portal's "Back up a wallet"
//   guide): the SDK's `portal.mpc.backup` stores the encryption key in the
//   user's cloud storage and returns the encrypted share; the app sends that
//   to its own server; then `portal.api.storedClientBackupShare` tells
//   Portal it was saved.
// - ../shared/PORTAL.md, "Order of a client backup in Portal's own SDK
//   (PortalSwift)": 1. validate the storage: write, read and delete a test
//   file; 3. encrypt once; 4. write the key, PATCH
//   STORED_CLIENT_BACKUP_SHARE_KEY; 5. the app stores the cipherText on its
//   server, then PATCH STORED_CLIENT_BACKUP_SHARE. "Portal writes by find →
//   delete → create" (Google Drive as the key store).
// - PortalSwift, Sources/PortalSwift/Storage/GDrive/GDriveClient.swift
//   (validateOperations: write "portal_test.txt" with "test_value", read it,
//   compare, delete; write: getIdForFilename (files.list, name='X',
//   orderBy=modifiedTime desc, pageSize=1), delete if found, then the
//   multipart create) and Core/Mpc/PortalMpc.swift (backup: validate,
//   encrypt, storage.write(key), updateShareStatus KEY; recover: the
//   cipherText from the app's server, storage.read(), decrypt).
//
// Left out, so this baseline is if anything faster than Portal's SDK:
// PortalSwift's write of the test file looks for an older one first
// (files.list) and every create first reads the folder's id (GET
// files/appDataFolder); its read finds the test file by name (files.list)
// instead of keeping the id the create returned; recovery tries up to five
// per-platform file names in turn (list, then get, each); and the SDK reads
// the client (GET /clients/me) around both flows. The MPC backup itself
// (the shares) is not part of either side: both start from the plaintext.
// The envelope is this project's (docs/ENVELOPE.md, random key kind), so
// the same Worker accepts the cipherText; Portal hex-encodes its own.

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromB64url = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const utf8 = (s) => new TextEncoder().encode(s);
const u16 = (n) => [n >> 8, n & 0xff];

/** The associated data of docs/ENVELOPE.md: header || len clientId || clientId || len method || method. */
function aad(header, clientId, method) {
  const c = utf8(clientId);
  const m = utf8(method);
  return new Uint8Array([...header, ...u16(c.length), ...c, ...u16(m.length), ...m]);
}

async function seal(plaintext, clientId, method) {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const header = new Uint8Array([0x50, 0x42, 0x41, 0x4b, 0x01, 0x01, ...nonce]); // PBAK, v1, random key
  const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(header, clientId, method) }, k, utf8(plaintext)));
  const envelope = new Uint8Array(header.length + sealed.length);
  envelope.set(header);
  envelope.set(sealed, header.length);
  return { key: b64url(key), cipherText: b64url(envelope) };
}

async function open(cipherText, keyText, clientId, method) {
  const envelope = fromB64url(cipherText);
  const header = envelope.subarray(0, 18);
  const k = await crypto.subtle.importKey('raw', fromB64url(keyText), 'AES-GCM', false, ['decrypt']);
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: header.subarray(6, 18), additionalData: aad(header, clientId, method) }, k, envelope.subarray(18));
  return new TextDecoder().decode(plain);
}

async function sha256hex(text) {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text)))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function ok(response, what) {
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

function drive(o) {
  const auth = { Authorization: `Bearer ${o.driveToken}` };
  const base = o.driveApiUrl;
  return {
    async create(name, content) {
      const boundary = 'portal-backup-share';
      const body = `--${boundary}\nContent-Type: application/json; charset=UTF-8\n\n${JSON.stringify({ name, parents: ['appDataFolder'] })}\n--${boundary}\nContent-Type: text/plain\n\n${content}\n--${boundary}--`;
      const r = await ok(await fetch(`${base}/upload/drive/v3/files?ignoreDefaultVisibility=true&uploadType=multipart`, {
        method: 'POST', headers: { ...auth, 'Content-Type': `multipart/related; boundary=${boundary}` }, body,
      }), 'drive create');
      return (await r.json()).id;
    },
    async find(name) {
      const q = encodeURIComponent(`name='${name}'`);
      const r = await ok(await fetch(`${base}/drive/v3/files?spaces=appDataFolder&q=${q}&orderBy=modifiedTime%20desc&pageSize=1`, { headers: auth }), 'drive list');
      return (await r.json()).files[0]?.id ?? null;
    },
    async read(id) {
      const r = await ok(await fetch(`${base}/drive/v3/files/${id}?alt=media`, { headers: auth }), 'drive read');
      return (await r.text()).replace(/\n$/, '');
    },
    async remove(id) {
      await ok(await fetch(`${base}/drive/v3/files/${id}`, { method: 'DELETE', headers: auth }), 'drive delete');
    },
  };
}

async function patchPairs(o, status, ids) {
  await ok(await fetch(`${o.portalApiUrl}/api/v3/clients/me/backup-share-pairs`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${o.portalToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ status, backupSharePairIds: ids }),
  }), `portal PATCH ${status}`);
}

/** Portal's backup order, GDRIVE. `mark(step, phase)` records progress as the package's events do. */
export async function backup(o, mark) {
  const d = drive(o);
  const fileName = `${await sha256hex(`${o.custodianId}${o.clientId}`)}.txt`;
  const ids = Object.values(JSON.parse(o.clientBackup)).map((s) => s.id);

  // 1. Validate the storage: write, read and delete a test file.
  mark('checkStorage', 'start');
  const testId = await d.create('portal_test.txt', 'test_value');
  if ((await d.read(testId)) !== 'test_value') throw new Error('storage check: content mismatch');
  await d.remove(testId);
  mark('checkStorage', 'end');

  // 3. Encrypt once.
  mark('encrypt', 'start');
  const { key, cipherText } = await seal(o.clientBackup, o.clientId, 'GDRIVE');
  mark('encrypt', 'end');

  // 4. Write the key: find, delete, create; then tell Portal KEY.
  mark('storeKey', 'start');
  const old = await d.find(fileName);
  if (old) await d.remove(old);
  await d.create(fileName, key);
  mark('storeKey', 'end');
  mark('notifyPortal', 'start');
  await patchPairs(o, 'STORED_CLIENT_BACKUP_SHARE_KEY', ids);
  mark('notifyPortal', 'end');

  // 5. The app stores the cipherText on its server, then tells Portal SHARE.
  mark('storeShare', 'start');
  const stored = await ok(await fetch(`${o.serverUrl}/v1/client-backups/GDRIVE`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${o.portalToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ cipherText, backupSharePairIds: ids, notifyPortal: false }),
  }), 'server PUT');
  await stored.json();
  mark('storeShare', 'end');
  mark('notifyPortal', 'start');
  await patchPairs(o, 'STORED_CLIENT_BACKUP_SHARE', ids);
  mark('notifyPortal', 'end');
  return { cipherTextLength: cipherText.length };
}

/** Portal's recovery order, GDRIVE: the cipherText from the app's server, then the key (find, read), then decrypt. */
export async function recover(o, mark) {
  const d = drive(o);
  const fileName = `${await sha256hex(`${o.custodianId}${o.clientId}`)}.txt`;
  mark('fetchShare', 'start');
  const r = await ok(await fetch(`${o.serverUrl}/v1/client-backups/GDRIVE`, { headers: { Authorization: `Bearer ${o.portalToken}` } }), 'server GET');
  const { current } = await r.json();
  mark('fetchShare', 'end');
  mark('fetchKey', 'start');
  const id = await d.find(fileName);
  if (!id) throw new Error('no key file');
  const key = await d.read(id);
  mark('fetchKey', 'end');
  mark('decrypt', 'start');
  const clientBackup = await open(current.cipherText, key, o.clientId, 'GDRIVE');
  mark('decrypt', 'end');
  return { clientBackup };
}
