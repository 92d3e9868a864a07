// A small SVG waterfall of one flow: its steps (from the package's progress
// events) above its requests (from Chromium's DevTools protocol), on one
// time axis from the call (0 ms) to its answer. Requests on the critical path
// are outlined; a request's light prefix is its wait for a CORS preflight.

const COLORS = { drive: '#4285f4', icloud: '#2e9e4f', portal: '#8e44ad', worker: '#f38020', other: '#777777', step: '#9aa5b1' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The longest chain of requests that waited on each other, found backwards
 * from the flow's end: the request that ended last, then the one that ended
 * last before it started, and so on. Gaps between them are local work
 * (encryption, Argon2id, the package's own code) or waiting on nothing.
 * Items: {start, end}; answers the chosen items, first to last.
 */
export function criticalPath(items, end, toleranceMs = 1) {
  const chain = [];
  let cursor = end + toleranceMs;
  const left = new Set(items);
  for (;;) {
    let best = null;
    for (const r of left) if (r.end <= cursor && (!best || r.end > best.end)) best = r;
    if (!best) break;
    chain.unshift(best);
    left.delete(best);
    cursor = best.start + toleranceMs;
  }
  return chain;
}

/** Total time covered by at least one interval (ms). */
export function unionMs(items) {
  const sorted = [...items].sort((a, b) => a.start - b.start);
  let total = 0;
  let curStart = null;
  let curEnd = null;
  for (const { start, end } of sorted) {
    if (curEnd === null || start > curEnd) {
      if (curEnd !== null) total += curEnd - curStart;
      curStart = start;
      curEnd = end;
    } else curEnd = Math.max(curEnd, end);
  }
  if (curEnd !== null) total += curEnd - curStart;
  return total;
}

function niceStep(totalMs) {
  for (const step of [50, 100, 250, 500, 1000, 2000, 5000]) if (totalMs / step <= 8) return step;
  return 10_000;
}

/**
 * @param {object} o
 * @param {string} o.title
 * @param {number} o.wallMs   the flow's wall time (the axis ends there or at the last request)
 * @param {{step: string, start: number, end: number}[]} o.steps   ms from the call
 * @param {{label: string, service: string, start: number, sent?: number, end: number, critical?: boolean}[]} o.requests
 * @param {string} [o.note]   one line under the title
 */
export function waterfallSvg({ title, wallMs, steps, requests, note = '' }) {
  const labelW = 330;
  const plotW = 540;
  const rowH = 16;
  const top = note ? 50 : 36;
  const rows = steps.length + requests.length + (steps.length && requests.length ? 1 : 0);
  const axisY = top + rows * rowH + 6;
  const height = axisY + 34;
  const span = Math.max(wallMs, ...requests.map((r) => r.end), ...steps.map((s) => s.end), 1);
  const x = (ms) => labelW + (Math.max(0, ms) / span) * plotW;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 20}" height="${height}" viewBox="0 0 ${labelW + plotW + 20} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="8" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  if (note) out.push(`<text x="8" y="34" fill="#444">${esc(note)}</text>`);
  const step = niceStep(span);
  for (let t = 0; t <= span; t += step) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${axisY}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${axisY + 14}" text-anchor="middle" fill="#555">${t}</text>`);
  }
  out.push(`<text x="${labelW + plotW}" y="${axisY + 28}" text-anchor="end" fill="#555">ms from the call</text>`);
  // The answer: a line at the wall time.
  out.push(`<line x1="${x(wallMs).toFixed(1)}" y1="${top - 4}" x2="${x(wallMs).toFixed(1)}" y2="${axisY}" stroke="#222" stroke-dasharray="3,2"/>`);
  out.push(`<text x="${(x(wallMs) - 3).toFixed(1)}" y="${top - 8}" text-anchor="end" fill="#222">answer ${Math.round(wallMs)} ms</text>`);
  let y = top;
  for (const s of steps) {
    const w = Math.max(1.5, x(s.end) - x(s.start));
    out.push(`<text x="8" y="${y + 11}" fill="#333">step ${esc(s.step)}</text>`);
    out.push(`<rect x="${x(s.start).toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS.step}" rx="2"><title>${esc(`${s.step}: ${s.start.toFixed(0)}–${s.end.toFixed(0)} ms`)}</title></rect>`);
    y += rowH;
  }
  if (steps.length && requests.length) y += rowH;
  for (const r of requests) {
    const color = COLORS[r.service] ?? COLORS.other;
    const sent = r.sent ?? r.start;
    out.push(`<text x="8" y="${y + 11}" fill="#222"${r.critical ? ' font-weight="bold"' : ''}>${esc(r.label.length > 52 ? `${r.label.slice(0, 51)}…` : r.label)}</text>`);
    if (sent > r.start) out.push(`<rect x="${x(r.start).toFixed(1)}" y="${y + 3}" width="${Math.max(1, x(sent) - x(r.start)).toFixed(1)}" height="${rowH - 6}" fill="${color}" opacity="0.3"/>`);
    out.push(`<rect x="${x(sent).toFixed(1)}" y="${y + 3}" width="${Math.max(1.5, x(r.end) - x(sent)).toFixed(1)}" height="${rowH - 6}" fill="${color}"${r.critical ? ' stroke="#000" stroke-width="1.5"' : ''}><title>${esc(`${r.label}: ${r.start.toFixed(0)}–${r.end.toFixed(0)} ms${sent > r.start ? ` (preflight until ${sent.toFixed(0)})` : ''}`)}</title></rect>`);
    out.push(`<text x="${(x(r.end) + 3).toFixed(1)}" y="${y + 11}" fill="#555" font-size="10">${Math.round(r.end - r.start)}</text>`);
    y += rowH;
  }
  // Legend.
  // Only the services this flow talked to (and the steps).
  const services = new Set(requests.map((r) => r.service));
  const legend = [['Drive', 'drive'], ['iCloud', 'icloud'], ['Portal', 'portal'], ['Worker', 'worker']]
    .filter(([, key]) => services.has(key)).map(([name, key]) => [name, COLORS[key]]).concat([['step', COLORS.step]]);
  let lx = 8;
  for (const [name, color] of legend) {
    out.push(`<rect x="${lx}" y="${axisY + 20}" width="10" height="8" fill="${color}"/><text x="${lx + 13}" y="${axisY + 28}" fill="#444">${name}</text>`);
    lx += 62;
  }
  out.push(`<rect x="${lx}" y="${axisY + 20}" width="10" height="8" fill="#fff" stroke="#000" stroke-width="1.5"/><text x="${lx + 13}" y="${axisY + 28}" fill="#444">critical path</text>`);
  out.push('</svg>');
  return out.join('\n');
}
