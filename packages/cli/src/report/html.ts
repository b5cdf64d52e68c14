import type { RunReport } from './build-report';
import { runFacts } from './facts';
import { robustnessRows } from './markdown';
import { barChart, escapeXml, lineChart } from './svg-charts';

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 980px; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 16px 0; } figcaption { color: #555; font-size: 12px; } svg { max-width: 100%; height: auto; }
.note { color: #8a5a00; }
.missing { color: #a40000; font-weight: 600; }
`;

/** Markdown-ish bold (**x**) to <strong>, everything else escaped. */
function cell(text: string): string {
  const bold = /^\*\*(.*)\*\*$/.exec(text);
  return bold ? `<strong>${escapeXml(bold[1])}</strong>` : escapeXml(text);
}

/** A table; every column but the first is right-aligned numbers unless `text` is set. */
function htmlTable(header: string[], rows: string[][], text = false): string {
  const head = `<tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${i > 0 && !text ? ' class="num"' : ''}>${cell(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table>${head}\n${body}</table>`;
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${escapeXml(caption)}</figcaption></figure>`;
}

/**
 * The report as one self-contained HTML page: inline CSS and inline SVG plots, no script and no external
 * resource, so it opens from disk, offline, and can be attached anywhere.
 */
export function renderHtml(report: RunReport): string {
  const { run } = report;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const parts: string[] = [];
  const facts = runFacts(run);
  parts.push(`<h1>MAT report: ${escapeXml(run.name)}</h1>`, htmlTable(['run', run.dir], facts, true));
  if (report.missing.length)
    parts.push(
      `<h2>Missing from this run</h2><ul>${report.missing.map((m) => `<li class="missing">${escapeXml(m)}</li>`).join('')}</ul>`,
    );

  const training = report.charts.lines.filter((c) => !c.id.startsWith('accuracy-vs-eps'));
  if (training.length) {
    parts.push('<h2>Training</h2>');
    const points = report.run.stepsDone ?? 0;
    for (const c of training) {
      const source =
        c.id === 'eval-during-training' ? 'evaluations in metrics.jsonl' : `metrics.jsonl, ${points} steps`;
      parts.push(figure(lineChart(c), `Source: ${source}; long runs are shown as bucket means.`));
    }
  }
  if (report.finalEval) {
    parts.push(
      htmlTable(
        ['peer', `clean (step ${report.finalEval.step})`, 'robust', 'images'],
        report.finalEval.peers.map((p) => [
          `peer ${p.peer}`,
          pct(p.cleanAccuracy),
          pct(p.robustAccuracy),
          `${p.count}`,
        ]),
      ),
    );
  }
  if (report.robustness.length) parts.push('<h2>Robust accuracy per attack and norm</h2>');
  report.robustness.forEach((section, i) => {
    const bars = report.charts.bars[i];
    const eps = Object.entries(section.eps)
      .map(([n, e]) => `${n} ${+(e as number).toPrecision(4)}`)
      .join(', ');
    const caption = `Source: ${section.file} (eps ${eps}). A union counts a sample as robust only if it resists every attack in it.`;
    parts.push(figure(barChart(bars), caption));
    const { header, rows } = robustnessRows(section);
    parts.push(htmlTable(header, rows));
  });
  const eps = report.charts.lines.filter((c) => c.id.startsWith('accuracy-vs-eps'));
  if (eps.length) {
    parts.push('<h2>Accuracy vs eps</h2>');
    for (const c of eps)
      parts.push(
        figure(lineChart(c), `${c.title}: solid lines are unions per model, dashed lines single attacks.`),
      );
  }
  if (report.notes.length)
    parts.push(
      `<h2>Notes</h2><ul>${report.notes.map((n) => `<li class="note">${escapeXml(n)}</li>`).join('')}</ul>`,
    );
  parts.push(`<p><small>Generated ${escapeXml(report.generatedAt)} by <code>mat report</code>.</small></p>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>MAT report: ${escapeXml(run.name)}</title><style>${STYLE}</style></head>
<body>
${parts.join('\n')}
</body></html>
`;
}
