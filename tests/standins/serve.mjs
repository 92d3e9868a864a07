// Starts the Portal, Google Drive and iCloud (CloudKit) stand-ins for the demo
// and for tests run against fixed ports:
//   node tests/standins/serve.mjs [--portal-port 8790] [--drive-port 8791]
//                                 [--icloud-port 8792] [--icloud-state FILE]
//                                 [--webhook-url URL --webhook-secret S]
// --icloud-state: the iCloud stand-in's records are read from FILE at start
// (if it exists) and written there on SIGINT/SIGTERM, so the demo keeps them
// between runs as it keeps the Worker's KV.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_ICLOUD_PORT, startICloud } from './icloud.mjs';
import { DEFAULT_PORTAL_PORT, startPortal } from './portal.mjs';

const { values } = parseArgs({
  options: {
    'portal-port': { type: 'string', default: String(DEFAULT_PORTAL_PORT) },
    'drive-port': { type: 'string', default: '8791' },
    'icloud-port': { type: 'string', default: String(DEFAULT_ICLOUD_PORT) },
    'icloud-state': { type: 'string' },
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string' },
  },
});
if (Boolean(values['webhook-url']) !== Boolean(values['webhook-secret'])) {
  console.error('--webhook-url and --webhook-secret go together');
  process.exit(2);
}

const running = [];
let icloud;
async function stopAll(code) {
  if (icloud && values['icloud-state']) {
    try {
      writeFileSync(values['icloud-state'], JSON.stringify(icloud.snapshot()) + '\n', { mode: 0o600 });
    } catch (err) {
      console.error(`saving the iCloud stand-in's records failed: ${err.message}`);
    }
  }
  await Promise.allSettled(running.map((s) => s.close()));
  process.exit(code);
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

try {
  const portal = await startPortal({
    port: Number(values['portal-port']),
    webhookUrl: values['webhook-url'],
    webhookSecret: values['webhook-secret'],
  });
  running.push(portal);
  console.log(`portal stand-in listening on ${portal.url}`);

  const { startDrive } = await import('./drive.mjs');
  const drive = await startDrive({ port: Number(values['drive-port']) });
  running.push(drive);
  console.log(`drive stand-in listening on ${drive.url}`);

  const started = await startICloud({ port: Number(values['icloud-port']) });
  running.push(started);
  const stateFile = values['icloud-state'];
  if (stateFile && existsSync(stateFile)) started.restore(JSON.parse(readFileSync(stateFile, 'utf8')));
  icloud = started;
  console.log(`icloud stand-in listening on ${started.url}${stateFile ? ` (records kept in ${stateFile})` : ''}`);
} catch (err) {
  console.error(`stand-ins failed to start: ${err.message}`);
  await stopAll(1);
}
