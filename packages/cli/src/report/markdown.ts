import type { RobustnessSection, RunReport } from './build-report';
import { runFacts } from './facts';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const num = (v: number) => `${+v.toPrecision(4)}`;

/** A Markdown table; every column but the first is right-aligned unless `text` is set. */
function table(header: string[], rows: string[][], text = false): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  const align = header.map((_, i) => (i === 0 || text ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

/** The robust-accuracy rows of one eval file: attacks then the union per norm, the all-norm union last. */
export function robustnessRows(section: RobustnessSection): { header: string[]; rows: string[][] } {
  const models = section.models;
  const first = models[0];
  const rows: string[][] = [['clean', '', ...models.map((m) => pct(m.cleanAccuracy))]];
  for (const scale of section.scales) {
    for (const union of first.unions.filter((u) => u.scale === scale)) {
      if (union.norm !== 'all') {
        first.results.forEach((r, i) => {
          if (r.scale === scale && r.norm === union.norm)
            rows.push([`${r.label} ${r.norm}`, num(r.eps), ...models.map((m) => pct(m.results[i].accuracy))]);
        });
      }
      const u = first.unions.indexOf(union);
      rows.push([
        union.norm === 'all' ? `**union, all norms**` : `**union ${union.norm}**`,
        union.norm === 'all' ? `×${num(scale)}` : num(union.eps as number),
        ...models.map((m) => `**${pct(m.unions[u].accuracy)}**`),
      ]);
    }
  }
  return { header: ['attack', 'eps', ...models.map((m) => m.model)], rows };
}

/** The report as Markdown: run facts, accuracy during training, and every evaluation's table. */
export function renderMarkdown(report: RunReport): string {
  const { run } = report;
  const out: string[] = [`# MAT report: ${run.name}`, ''];
  const facts: string[][] = [['run directory', run.dir], ...runFacts(run)];
  out.push(table(['', ''], facts, true), '');
  if (report.missing.length)
    out.push('## Missing from this run', '', ...report.missing.map((m) => `- **${m}**`), '');

  if (report.finalEval) {
    out.push(`## Test accuracy at the end of training (step ${report.finalEval.step})`, '');
    out.push(
      table(
        ['peer', 'clean', 'robust', 'images'],
        report.finalEval.peers.map((p) => [
          `peer ${p.peer}`,
          pct(p.cleanAccuracy),
          pct(p.robustAccuracy),
          `${p.count}`,
        ]),
      ),
      '',
    );
  }
  for (const section of report.robustness) {
    out.push(`## Robust accuracy at step ${section.step} (${section.file})`, '');
    out.push(
      `${section.count} test images of ${section.dataset}; a sample counts for a union only if it resists every attack in it.`,
      '',
    );
    const { header, rows } = robustnessRows(section);
    out.push(table(header, rows), '');
    if (section.skipped.length) out.push(`Skipped: ${section.skipped.map((s) => s.reason).join('; ')}.`, '');
  }
  const eps = report.charts.lines.filter((c) => c.id.startsWith('accuracy-vs-eps'));
  for (const chart of eps) {
    out.push(`## ${chart.title}`, '');
    const radii = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    out.push(
      table(
        ['', ...radii.map(num)],
        chart.series.map((s) => [
          s.name,
          ...radii.map((r) => {
            const p = s.points.find((q) => q[0] === r);
            return p ? pct(p[1]) : '';
          }),
        ]),
      ),
      '',
    );
  }
  if (report.notes.length) out.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  out.push(`Plots: report.html. Generated ${report.generatedAt} by \`mat report\`.`, '');
  return out.join('\n');
}
