// The demo wallet's client backup share. A real wallet gets this plaintext
// from Portal's SDK after the MPC backup; here it is made up, in the same
// shape (tests/fixtures/client-backup-plaintext.json): per curve, the backup
// share pair id and the share as a JSON string of big decimal numbers.
//
// The numbers are derived from (clientId, generation), so a fresh browser
// ("a new device") knows which shares to expect after recovery, and
// "Generate new shares" (generation + 1) makes a backup distinguishable
// from the one before it.

const encoder = new TextEncoder();

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A decimal number of exactly `digits` digits, deterministic in `seed`. */
async function decimal(seed, digits) {
  let out = '';
  for (let block = 0; out.length < digits; block++) {
    out += BigInt('0x' + hex(await sha256(`${seed}#${block}`))).toString();
  }
  out = out.slice(0, digits);
  return out[0] === '0' ? '1' + out.slice(1) : out;
}

async function point(seed) {
  return { X: await decimal(`${seed}/X`, 77), Y: await decimal(`${seed}/Y`, 77) };
}

async function curveShare(clientId, curve, pairId, generation) {
  const seed = `demo-wallet/${clientId}/${generation}/${curve}`;
  const big = (field) => decimal(`${seed}/${field}`, 617);
  return {
    backupSharePairId: pairId,
    share: await decimal(`${seed}/share`, 77),
    pubkey: await point(`${clientId}/${curve}/pubkey`),
    clientId,
    curve,
    schnorrPubkey: await decimal(`${seed}/schnorr`, 77),
    paillierN: await big('paillierN'),
    paillierLambda: await big('paillierLambda'),
    paillierPhi: await big('paillierPhi'),
    pedersenN: await big('pedersenN'),
    pedersenS: await big('pedersenS'),
    pedersenT: await big('pedersenT'),
    partialPubkey: { alice: await point(`${seed}/pp/alice`), bob: await point(`${seed}/pp/bob`) },
    bks: {
      alice: { X: await decimal(`${seed}/bks/alice`, 78), Rank: 0 },
      bob: { X: await decimal(`${seed}/bks/bob`, 78), Rank: 0 },
    },
  };
}

/**
 * The plaintext Portal's SDK would hand over for a backup with `method`:
 * `{"SECP256K1": {"id", "share"}, "ED25519": {...}}` as a JSON string.
 * `client` is Portal's `GET /api/v3/clients/me` answer; its wallets name the
 * backup share pair ids.
 */
export async function clientBackupFor(client, method, generation) {
  const plaintext = {};
  for (const wallet of client.wallets) {
    const pair = wallet.backupSharePairs.find((p) => p.backupMethod === method);
    if (!pair) throw new Error(`Portal lists no ${method} backup share pair for the ${wallet.curve} wallet`);
    const share = await curveShare(client.id, wallet.curve, pair.id, generation);
    plaintext[wallet.curve] = { id: pair.id, share: JSON.stringify(share) };
  }
  return JSON.stringify(plaintext);
}

/**
 * Per curve, a short fingerprint of the share itself (not of the pair id,
 * which differs per method): what the page shows and compares.
 */
export async function fingerprints(clientBackup) {
  const parsed = JSON.parse(clientBackup);
  const out = {};
  for (const [curve, entry] of Object.entries(parsed)) {
    const share = JSON.parse(entry.share);
    delete share.backupSharePairId;
    const digest = hex(await sha256(JSON.stringify(share))).slice(0, 16);
    out[curve] = digest.match(/.{4}/g).join(' ');
  }
  return out;
}
