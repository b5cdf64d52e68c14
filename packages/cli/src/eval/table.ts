import type { EvalSuiteResult } from '@mat/core';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const num = (v: number) => `${+v.toPrecision(4)}`;

/**
 * The results as a text table: one column per model (peers, then the ensemble), one row per attack × norm
 * × radius, the per-norm unions after each norm's attacks and the all-norm union last at each scale.
 *
 *                         peer 0   peer 1  ensemble
 *   clean                  84.0%    83.0%     85.0%
 *   PGD-20    linf 0.1     61.0%    60.0%     63.0%
 *   union     linf 0.1     58.0%    57.0%     60.0%
 *   union     all norms    41.0%    40.0%     44.0%
 */
export function formatEvalTable(result: EvalSuiteResult): string {
  const models = result.models;
  const rows: string[][] = [
    ['', ...models.map((m) => m.model)],
    ['clean', ...models.map((m) => pct(m.cleanAccuracy))],
  ];
  const first = models[0];
  for (const scale of result.scales) {
    for (const union of first.unions.filter((u) => u.scale === scale)) {
      if (union.norm !== 'all') {
        first.results.forEach((r, i) => {
          if (r.scale !== scale || r.norm !== union.norm) return;
          rows.push([`${r.label} ${r.norm} ${num(r.eps)}`, ...models.map((m) => pct(m.results[i].accuracy))]);
        });
      }
      const u = first.unions.indexOf(union);
      const label =
        union.norm === 'all'
          ? `union all norms${result.scales.length > 1 ? ` ×${num(scale)}` : ''}`
          : `union ${union.norm} ${num(union.eps as number)}`;
      rows.push([label, ...models.map((m) => pct(m.unions[u].accuracy))]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
    .join('\n');
}
