// Starts the Portal and Google Drive stand-ins for the demo and for tests run
// against fixed ports:
//   node tests/standins/serve.mjs [--portal-port 8790] [--drive-port 8791]
//                                 [--webhook-url URL --webhook-secret S]
import { parseArgs } from 'node:util';
import { DEFAULT_PORTAL_PORT, startPortal } from './portal.mjs';

const { values } = parseArgs({
  options: {
    'portal-port': { type: 'string', default: String(DEFAULT_PORTAL_PORT) },
    'drive-port': { type: 'string', default: '8791' },
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string' },
  },
});
if (Boolean(values['webhook-url']) !== Boolean(values['webhook-secret'])) {
  console.error('--webhook-url and --webhook-secret go together');
  process.exit(2);
}

const running = [];
async function stopAll(code) {
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
} catch (err) {
  console.error(`stand-ins failed to start: ${err.message}`);
  await stopAll(1);
}
