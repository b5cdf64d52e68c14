import { chartCore } from '@mat/dashboard';
import type { BarChartSpec, LineChartSpec } from './build-report';

/**
 * Plain SVG charts, written as strings so that the HTML page is self-contained (no script, no CDN); the
 * line charts are the dashboard's renderer, the bar charts share its palette, ticks and number format
 * (@mat/dashboard's chart-core). Every chart carries a <title>, axis labels, tick labels and a legend, and `data-chart` / `data-series`
 * attributes that tests and readers can query.
 */

/** The palette of every MAT chart (the dashboard's too): @mat/dashboard's chart-core. */
export const PALETTE = chartCore.PALETTE;

const WIDTH = 760;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 190, top: 36, bottom: 52 };

/** Text for SVG/HTML markup (@mat/dashboard's chart-core). */
export const escapeXml = (s: string): string => chartCore.escapeXml(s);

/** About `count` round tick values inside [min, max] (1, 2, 5 × 10^k steps; @mat/dashboard's chart-core). */
export const niceTicks = (min: number, max: number, count = 5): number[] =>
  chartCore.niceTicks(min, max, count);

interface Box {
  width: number;
  height: number;
  /** The plot area. */
  x: number;
  y: number;
  w: number;
  h: number;
}

function frame(
  id: string,
  title: string,
  body: string,
  legend: string,
  labels: { x: string; y: string },
  box: Box,
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${box.width} ${box.height}" width="${box.width}" height="${box.height}" role="img" data-chart="${escapeXml(id)}" aria-labelledby="${escapeXml(id)}-title">`,
    `<title id="${escapeXml(id)}-title">${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${box.width}" height="${box.height}" fill="#fff"/>`,
    `<text class="chart-title" x="${box.x}" y="20" font-size="14" font-weight="600">${escapeXml(title)}</text>`,
    body,
    `<line x1="${box.x}" y1="${box.y + box.h}" x2="${box.x + box.w}" y2="${box.y + box.h}" stroke="#333"/>`,
    `<line x1="${box.x}" y1="${box.y}" x2="${box.x}" y2="${box.y + box.h}" stroke="#333"/>`,
    `<text class="x-label" x="${box.x + box.w / 2}" y="${box.y + box.h + 36}" text-anchor="middle" font-size="12">${escapeXml(labels.x)}</text>`,
    labels.y &&
      `<text class="y-label" transform="translate(16 ${box.y + box.h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(labels.y)}</text>`,
    `<g class="legend" font-size="11">${legend}</g>`,
    `</svg>`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** The bar charts' legend: a colour box and the series' name per entry. */
function legendEntries(names: string[], box: Box): string {
  const x = box.x + box.w + 16;
  return names
    .map((name, i) => {
      const y = box.y + 6 + i * 18;
      const mark = `<rect x="${x + 5}" y="${y - 6}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`;
      return `<g class="legend-entry">${mark}<text x="${x + 28}" y="${y + 4}">${escapeXml(name)}</text></g>`;
    })
    .join('');
}

const finiteYs = (spec: LineChartSpec) =>
  spec.series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y));

/**
 * A line chart of the spec's series, drawn by the dashboard's renderer (@mat/dashboard's chart-core
 * lineChartSvg); y as % for yFormat 'percent' (axis 0–100 %), a number axis from 0 or below.
 */
export function lineChart(spec: LineChartSpec): string {
  return chartCore.lineChartSvg({
    id: spec.id,
    title: spec.title,
    xLabel: spec.xLabel,
    yLabel: spec.yLabel,
    yFormat: spec.yFormat,
    ...(spec.yFormat === 'percent' ? { yMin: 0, yMax: 1 } : { yMin: Math.min(0, ...finiteYs(spec)) }),
    series: spec.series,
    markers: 40,
    width: WIDTH,
    height: HEIGHT,
    heading: true,
    legend: true,
  });
}

/**
 * A horizontal grouped bar chart, accuracy as % (0–100 %): one row group per category (attack × norm, the
 * unions), one bar per series (model). The height grows with the number of categories so labels never
 * overlap.
 */
export function barChart(spec: BarChartSpec): string {
  const labelW = 190;
  const barH = 9;
  const groupH = spec.series.length * barH + 8;
  const plotW = WIDTH - labelW - MARGIN.right;
  const plotH = spec.categories.length * groupH;
  const box: Box = {
    width: WIDTH,
    height: MARGIN.top + plotH + MARGIN.bottom,
    x: labelW,
    y: MARGIN.top,
    w: plotW,
    h: plotH,
  };
  box.height = Math.max(box.height, MARGIN.top + 18 * spec.series.length + 16);
  const sx = (v: number) => box.x + v * plotW;
  const grid = niceTicks(0, 1)
    .map(
      (t) =>
        `<line x1="${sx(t)}" y1="${box.y}" x2="${sx(t)}" y2="${box.y + plotH}" stroke="#e5e5e5"/>` +
        `<text class="x-tick" x="${sx(t)}" y="${box.y + plotH + 16}" text-anchor="middle" font-size="11">${Math.round(t * 100)}%</text>`,
    )
    .join('');
  const bars = spec.series
    .map((s, i) => {
      const colour = PALETTE[i % PALETTE.length];
      const rects = s.values
        .map((v, c) => {
          if (v === null || !Number.isFinite(v)) return '';
          const y = box.y + c * groupH + 4 + i * barH;
          const label = `${s.name} · ${spec.categories[c]}: ${(100 * v).toFixed(1)}%`;
          return (
            `<rect x="${box.x}" y="${y}" width="${Math.max(v * plotW, 0.5).toFixed(1)}" height="${barH - 1}" fill="${colour}"><title>${escapeXml(label)}</title></rect>` +
            `<text class="value" x="${(sx(v) + 3).toFixed(1)}" y="${y + barH - 2}" font-size="8" fill="#444">${(100 * v).toFixed(1)}%</text>`
          );
        })
        .join('');
      return `<g class="series" data-series="${escapeXml(s.name)}" data-points="${s.values.filter((v) => v !== null).length}">${rects}</g>`;
    })
    .join('\n');
  const categories = spec.categories
    .map((c, k) => {
      const y = box.y + k * groupH + groupH / 2 + 4;
      const strong = c.startsWith('union') || c === 'clean' ? ' font-weight="600"' : '';
      return `<text class="category" x="${box.x - 6}" y="${y}" text-anchor="end" font-size="11"${strong}>${escapeXml(c)}</text>`;
    })
    .join('');
  const legend = legendEntries(
    spec.series.map((s) => s.name),
    box,
  );
  return frame(spec.id, spec.title, grid + bars + categories, legend, { x: spec.yLabel, y: '' }, box);
}
