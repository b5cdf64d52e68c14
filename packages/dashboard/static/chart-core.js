/**
 * The charting code of MAT, in one place for both of its charts: the dashboard's live SVG charts
 * (this file is inlined into the page before run-page.js, as globalThis.MatChartCore) and `mat report`'s
 * SVG charts (packages/cli/src/report/svg-charts.ts, through @mat/dashboard's chart-core.ts). One palette,
 * one tick rule, one number format and one line-chart renderer (lineChartSvg), so a run looks the same on
 * the dashboard and in its report.
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

    /** Text for SVG/HTML markup: the five characters that could break out of text or an attribute. */
    function escapeXml(s) {
      return String(s).replace(
        /[&<>"']/g,
        (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
      );
    }

    /** At most `max` points: keeps the last point, strides over the rest (curves stay readable and cheap). */
    function thin(points, max) {
      if (points.length <= max) return points;
      const stride = Math.ceil(points.length / max);
      const out = points.filter((_, i) => i % stride === 0);
      if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
      return out;
    }

    const percentText = (v) => Math.round(v * 100) + '%';

    /**
     * The one line-chart renderer of MAT: the dashboard's live charts (its page sets the string as an
     * element's innerHTML) and `mat report`'s self-contained SVG. Returns the markup of an <svg data-chart>;
     * every curve is a <g class="series" data-series data-points> holding a <path data-series data-points
     * data-last-step data-last-value> (and data-peer when the series has a peer) with a <title> that names
     * its last point, so that tests and readers can query what was drawn.
     *
     * spec: {id, title, xLabel, yLabel?, series: [{name, points: [[x, y]], dashed?, colour?, peer?, tooltip?}],
     *   yFormat?: 'percent' | 'number' | (v) => string, yMin?, yMax?, xInteger?, marks?: [{step, kind, label}],
     *   markers?: draw point markers on curves of at most this many points (default 1),
     *   width?, height?, heading?: the title drawn in the chart, legend?: a legend on the right}.
     */
    function lineChartSvg(spec) {
      const W = spec.width || 560;
      const m = {
        l: spec.yLabel ? 64 : 56,
        r: spec.legend ? 190 : 14,
        t: spec.heading ? 36 : 12,
        b: spec.xLabel ? 48 : 30,
      };
      const H = Math.max(spec.height || 250, spec.legend ? m.t + 18 * spec.series.length + 16 : 0);
      const plotH = (spec.height || 250) - m.t - m.b;
      const bottom = m.t + plotH;
      const id = escapeXml(spec.id);
      const yText =
        typeof spec.yFormat === 'function'
          ? spec.yFormat
          : spec.yFormat === 'percent'
            ? percentText
            : tickText;
      const finite = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]);
      const series = spec.series.map((s, i) => ({
        s,
        colour: PALETTE[(s.colour !== undefined ? s.colour : i) % PALETTE.length],
        points: s.points.filter(finite),
      }));
      const out = [
        `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" data-chart="${id}" aria-labelledby="${id}-title">`,
        `<title id="${id}-title">${escapeXml(spec.title)}</title>`,
        `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`,
      ];
      if (spec.heading)
        out.push(
          `<text class="chart-title" x="${m.l}" y="20" font-size="14" font-weight="600">${escapeXml(spec.title)}</text>`,
        );
      const all = series.flatMap((c) => c.points);
      if (all.length === 0) {
        out.push(
          `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="13">no data yet</text>`,
          '</svg>',
        );
        return out.join('\n');
      }

      let xLo = Math.min(...all.map((p) => p[0]));
      let xHi = Math.max(...all.map((p) => p[0]));
      // One x (a first evaluation): the axis runs from 0 to it, not over a collapsed range.
      if (xHi === xLo) xLo = Math.min(0, xLo);
      if (xHi === xLo) xHi = xLo + 1;
      let yLo = spec.yMin !== undefined ? spec.yMin : Math.min(...all.map((p) => p[1]));
      let yHi = spec.yMax !== undefined ? spec.yMax : Math.max(...all.map((p) => p[1]));
      const yTicks = coveringTicks(yLo, yHi, 5);
      if (spec.yMin === undefined) yLo = yTicks[0];
      if (spec.yMax === undefined) yHi = yTicks[yTicks.length - 1];
      if (yHi === yLo) yHi = yLo + 1;
      const xTicks = coveringTicks(xLo, xHi, 6).filter(
        (v) => v >= xLo && v <= xHi && (!spec.xInteger || Number.isInteger(v)),
      );
      const right = W - m.r;
      const X = (v) => m.l + ((v - xLo) / (xHi - xLo)) * (right - m.l);
      const Y = (v) => bottom - ((v - yLo) / (yHi - yLo)) * plotH;
      const n = (v) => Number(v.toFixed(1));

      for (const v of yTicks) {
        if (v < yLo || v > yHi) continue;
        out.push(
          `<line class="grid" x1="${m.l}" y1="${n(Y(v))}" x2="${right}" y2="${n(Y(v))}" stroke="#e5e5e5"/>` +
            `<text class="y-tick" x="${m.l - 6}" y="${n(Y(v) + 4)}" text-anchor="end" font-size="11">${escapeXml(yText(v))}</text>`,
        );
      }
      for (const v of xTicks)
        out.push(
          `<line class="axis" x1="${n(X(v))}" y1="${bottom}" x2="${n(X(v))}" y2="${bottom + 4}" stroke="#333"/>` +
            `<text class="x-tick" x="${n(X(v))}" y="${bottom + 17}" text-anchor="middle" font-size="11">${tickText(v)}</text>`,
        );
      out.push(
        `<line class="axis" x1="${m.l}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>`,
        `<line class="axis" x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${bottom}" stroke="#333"/>`,
      );
      if (spec.xLabel)
        out.push(
          `<text class="x-label" x="${n((m.l + right) / 2)}" y="${bottom + 36}" text-anchor="middle" font-size="12">${escapeXml(spec.xLabel)}</text>`,
        );
      if (spec.yLabel)
        out.push(
          `<text class="y-label" transform="translate(16 ${n(m.t + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(spec.yLabel)}</text>`,
        );

      // Generations and rollbacks: every peer went back to this step (the curves after it are re-taken steps).
      for (const mark of spec.marks || []) {
        if (mark.step < xLo || mark.step > xHi) continue;
        const x = n(X(mark.step));
        out.push(
          `<line class="mark ${escapeXml(mark.kind)}" x1="${x}" y1="${m.t}" x2="${x}" y2="${bottom}" stroke="#8a8f98" stroke-dasharray="3 3" data-mark="${escapeXml(mark.kind)}" data-step="${mark.step}"/>` +
            `<text class="mark-label" x="${x + 3}" y="${m.t + 10}" font-size="10">${escapeXml(mark.label)}</text>`,
        );
      }

      const markers = spec.markers !== undefined ? spec.markers : 1;
      for (const { s, colour, points } of series) {
        if (points.length === 0) continue;
        const last = points[points.length - 1];
        const d = thin(points, 800)
          .map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1))
          .join('');
        const tooltip = `${s.tooltip || s.name}: ${yText(last[1])} at ${spec.xLabel || 'x'} ${tickText(last[0])}`;
        const dots =
          points.length <= markers
            ? points
                .map(
                  (p) =>
                    `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${colour}"/>`,
                )
                .join('')
            : '';
        out.push(
          `<g class="series" data-series="${escapeXml(s.name)}" data-points="${points.length}">` +
            `<path fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"` +
            (s.dashed ? ' stroke-dasharray="5 3"' : '') +
            ` d="${d}"` +
            (s.peer !== undefined ? ` data-peer="${s.peer}"` : '') +
            ` data-series="${escapeXml(s.name)}" data-points="${points.length}" data-last-step="${last[0]}" data-last-value="${last[1]}">` +
            `<title>${escapeXml(tooltip)}</title></path>${dots}</g>`,
        );
      }

      if (spec.legend) {
        const x = right + 16;
        const entries = series.map(({ s, colour }, i) => {
          const y = m.t + 6 + i * 18;
          return (
            `<g class="legend-entry"><line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${colour}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>` +
            `<text x="${x + 28}" y="${y + 4}">${escapeXml(s.name)}</text></g>`
          );
        });
        out.push(`<g class="legend" font-size="11">${entries.join('')}</g>`);
      }
      out.push('</svg>');
      return out.join('\n');
    }

    return { PALETTE, tickStep, niceTicks, coveringTicks, tickText, escapeXml, lineChartSvg };
  })(),
);
