// A bar chart of a pool's codes assigned and redeemed per day, as plain SVG.
import { svg, num } from './dom.js';

const W = 760;
const H = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 44 };

/** "2026-11-25" → "25 Nov" (the date is UTC; so is the label). */
function label(date) {
  return new Date(date + 'T00:00:00Z').toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
}

/** 0, a round step, … up to at least `max`. */
function ticks(max) {
  if (max <= 4) return Array.from({ length: Math.max(max, 1) + 1 }, (_, i) => i);
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return Array.from({ length: Math.ceil(max / step) + 1 }, (_, i) => i * step);
}

/** The chart for `days` ([{date, assigned, redeemed}], oldest first). */
export function activityChart(days) {
  const assigned = days.reduce((n, d) => n + d.assigned, 0);
  const redeemed = days.reduce((n, d) => n + d.redeemed, 0);
  const summary = `Last ${days.length} days: ${num(assigned)} assigned, ${num(redeemed)} redeemed`;
  const scale = ticks(Math.max(1, ...days.map((d) => Math.max(d.assigned, d.redeemed))));
  const top = scale.at(-1);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const slot = plotW / days.length;
  const bar = Math.max(1, Math.min(14, slot * 0.38));
  const every = Math.ceil(days.length / 8);

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': summary });
  for (const t of scale) {
    chart.append(
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'axis' }, num(t)),
    );
  }
  days.forEach((d, i) => {
    const x = PAD.left + i * slot + slot / 2;
    const group = svg('g', { 'data-date': d.date },
      svg('title', {}, `${d.date}: ${num(d.assigned)} assigned, ${num(d.redeemed)} redeemed`),
      // A transparent column, so the tooltip shows on days with no bars.
      svg('rect', { x: x - slot / 2, y: PAD.top, width: slot, height: plotH, class: 'hit' }),
      svg('rect', { x: x - bar, y: y(d.assigned), width: bar, height: y(0) - y(d.assigned), class: 'assigned' }),
      svg('rect', { x, y: y(d.redeemed), width: bar, height: y(0) - y(d.redeemed), class: 'redeemed' }),
    );
    chart.append(group);
    // Today is labelled, and every `every`-th day back from it.
    if ((days.length - 1 - i) % every === 0) {
      chart.append(svg('text', { x, y: H - 8, 'text-anchor': 'middle', class: 'axis' }, label(d.date)));
    }
  });
  return { chart, summary };
}
