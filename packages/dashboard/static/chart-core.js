/**
 * The charting primitives of MAT, in one place for both of its charts: the dashboard's live SVG charts
 * (this file is inlined into the page before run-page.js, as globalThis.MatChartCore) and `mat report`'s
 * SVG charts (packages/cli/src/report/svg-charts.ts, through @mat/dashboard's chart-core.ts). One palette,
 * one tick rule, one number format, so a run looks the same on the dashboard and in its report.
 */
(function (api) {
  if (typeof module === 'object' && module.exports) module.exports = api;
  else globalThis.MatChartCore = api;
})(
  (function () {
    'use strict';

    /** Colour-blind-safe palette (Okabe & Ito 2008). */
    const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

    /** The tick spacing for about `count` ticks over [min, max]: the first of 1, 2, 5 × 10^k not below the raw step. */
    function tickStep(min, max, count) {
      const raw = (max - min) / (count || 5);
      const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
      const steps = [1, 2, 5, 10].map((m) => m * magnitude);
      return steps.find((s) => s >= raw) || 10 * magnitude;
    }

    /** Round tick values inside [min, max]. */
    function niceTicks(min, max, count) {
      if (!(max > min)) return [min];
      const step = tickStep(min, max, count);
      const ticks = [];
      for (let t = Math.ceil(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step)
        ticks.push(Number(t.toPrecision(12)));
      return ticks;
    }

    /** Round tick values covering [min, max] (the first at or below min, the last at or above max). */
    function coveringTicks(min, max, count) {
      if (!(max > min)) {
        const pad = Math.abs(min) * 0.1 || 1;
        min -= pad;
        max += pad;
      }
      const step = tickStep(min, max, count);
      const ticks = [];
      const end = Math.ceil(max / step - 1e-9) * step;
      for (let t = Math.floor(min / step + 1e-9) * step; t <= end + step / 2; t += step)
        ticks.push(Number(t.toPrecision(12)));
      return ticks;
    }

    /** A tick label: four significant digits, exponents for very large or small values. */
    function tickText(v) {
      return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
        ? v.toExponential(1)
        : String(Number(v.toPrecision(4)));
    }

    return { PALETTE, tickStep, niceTicks, coveringTicks, tickText };
  })(),
);
