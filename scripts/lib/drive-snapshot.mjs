// The Drive stand-in keeps files in memory, while the demo's KV persists
// between runs. So the demo saves the test account's Drive files when it
// stops and uploads them again when it starts: a Drive backup made in one
// run still recovers in the next. Local demo state only (gitignored).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const USER = 'alice';

export async function saveDrive(driveUrl, file) {
  const response = await fetch(`${driveUrl}/__control/files?user=${USER}`, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) return;
  const files = (await response.json()).filter((f) => f.mimeType !== 'application/vnd.google-apps.folder');
  files.sort((a, b) => String(a.createdTime).localeCompare(String(b.createdTime)));
  const saved = files.map((f) => ({ name: f.name, parents: f.parents, mimeType: f.mimeType, contentBase64: f.contentBase64 }));
  writeFileSync(file, JSON.stringify(saved) + '\n', { mode: 0o600 });
}

export async function restoreDrive(driveUrl, token, file) {
  if (!existsSync(file)) return 0;
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  for (const f of saved) {
    const boundary = `snapshot${Math.random().toString(36).slice(2)}`;
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n` +
          JSON.stringify({ name: f.name, parents: f.parents, mimeType: f.mimeType }) +
          `\r\n--${boundary}\r\nContent-Type: ${f.mimeType}\r\n\r\n`,
      ),
      Buffer.from(f.contentBase64, 'base64'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${driveUrl}/upload/drive/v3/files?uploadType=multipart`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': `multipart/related; boundary=${boundary}` },
      body,
    });
    if (!response.ok) throw new Error(`restoring a Drive file failed: HTTP ${response.status}`);
  }
  return saved.length;
}
