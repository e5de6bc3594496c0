// A small SVG line-chart writer for the over-time charts: axes with round-number ticks, one polyline per
// series, a legend. No browser and no dependency: the output is plain, well-formed XML.

export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
}

const WIDTH = 800;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** Round tick values (1, 2, 5 x 10^n steps) covering 0..max. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let value = 0; value < max + step; value += step) {
    ticks.push(Number(value.toPrecision(12)));
    if (value >= max) break;
  }
  return ticks;
}

const fmt = (value: number): string => (Math.abs(value) >= 1000 ? value.toLocaleString('en-US') : String(value));

export function renderLineChart(chart: LineChart): string {
  const all = chart.series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map(([x]) => x)));
  const yTicks = niceTicks(Math.max(0, ...all.map(([, y]) => y)));
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + (x / xMax) * plotW;
  const sy = (y: number): number => MARGIN.top + plotH - (y / yMax) * plotH;
  const n = (value: number): string => value.toFixed(1);

  const parts: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
  ];
  for (const y of yTicks) {
    parts.push(`<line x1="${MARGIN.left}" y1="${n(sy(y))}" x2="${WIDTH - MARGIN.right}" y2="${n(sy(y))}" stroke="#e0e0e0"/>`,
      `<text x="${MARGIN.left - 6}" y="${n(sy(y) + 4)}" text-anchor="end">${escapeXml(fmt(y))}</text>`);
  }
  for (const x of xTicks) {
    parts.push(`<line x1="${n(sx(x))}" y1="${MARGIN.top + plotH}" x2="${n(sx(x))}" y2="${MARGIN.top + plotH + 5}" stroke="black"/>`,
      `<text x="${n(sx(x))}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(fmt(x))}</text>`);
  }
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${WIDTH - MARGIN.right}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length]!;
    const points = series.points.map(([x, y]) => `${n(sx(x))},${n(sy(y))}`).join(' ');
    if (points) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"/>`);
    const ly = MARGIN.top + 14 + index * 16;
    parts.push(`<line x1="${WIDTH - MARGIN.right - 190}" y1="${ly - 4}" x2="${WIDTH - MARGIN.right - 172}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${WIDTH - MARGIN.right - 166}" y="${ly}">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
