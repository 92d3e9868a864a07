// Runs the demo stack in the foreground until Ctrl-C (scripts/demo).
import { join } from 'node:path';
import { restoreDrive, saveDrive } from './drive-snapshot.mjs';
import { DEFAULT_PORTS, DEMO_DRIVE_TOKEN, ROOT, ensureDevVars, startStack } from './stack.mjs';

const stateDir = join(ROOT, '.wrangler/demo');
// Demo-only secrets, generated once and kept (gitignored) so the custodian
// shares sealed into the persisted KV stay readable across runs.
const secrets = ensureDevVars(join(ROOT, 'www/.dev.vars'));
const googleClientId = process.env.GOOGLE_CLIENT_ID ?? '';
const driveSnapshot = join(stateDir, 'drive-stand-in.json');

let stack;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping the demo…');
  if (stack && !googleClientId) await saveDrive(stack.driveUrl, driveSnapshot).catch(() => {});
  await stack?.stop();
  console.log('Stopped.');
  process.exit(code);
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

try {
  stack = await startStack({
    ports: DEFAULT_PORTS,
    stateDir,
    persistTo: join(ROOT, '.wrangler/state'),
    secrets: { WEBHOOK_SECRET: secrets.WEBHOOK_SECRET, SHARE_ENCRYPTION_KEYS: secrets.SHARE_ENCRYPTION_KEYS },
    googleClientId,
  });
} catch (error) {
  console.error(`The demo did not start: ${error.message}`);
  process.exit(1);
}
if (stopping) await new Promise(() => {});
if (!googleClientId) await restoreDrive(stack.driveUrl, DEMO_DRIVE_TOKEN, driveSnapshot);

console.log(`
  Demo wallet:  ${stack.url.replace('127.0.0.1', 'localhost')}/   (every method, Passkey included)
                ${stack.url}/   (the same page; Passkey is off there: WebAuthn takes no IP address)

  Worker        ${stack.url}  (wrangler dev --local; KV kept in .wrangler/state)
  Portal        ${stack.portalUrl}  (stand-in; sends the custodian share to ${stack.url}/webhooks/backup)
  Google Drive  ${googleClientId ? 'the real one, via Google sign-in (GOOGLE_CLIENT_ID)' : `${stack.driveUrl}  (stand-in, test account; set GOOGLE_CLIENT_ID for the real one)`}
  iCloud        ${stack.icloudUrl}  (CloudKit stand-in; the page signs in on its sign-in page, any Apple ID)
  Logs          ${stack.logDir}

  Ctrl-C stops everything. To start over: stop it, then rm -rf .wrangler/state .wrangler/demo
`);
