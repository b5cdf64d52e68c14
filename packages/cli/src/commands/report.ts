import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import { writeFileAtomic } from '@mat/core';
import { buildReport, loadRunData, renderHtml, renderMarkdown } from '../report';

interface ReportArgs {
  run: string;
  out?: string;
}

/**
 * `mat report <run>`: report.json, report.md and report.html (self-contained, inline SVG plots) from a run's
 * metrics.jsonl, summary.json and the eval-*.json files `mat eval` wrote.
 */
export function reportCommand(yargs: Argv): Argv {
  return yargs.command<ReportArgs>(
    'report <run>',
    'Write report.json, report.md and a self-contained report.html (plots) for a run',
    (y) =>
      y
        .usage(
          '$0 report <run> [--out dir]\n\n' +
            'Training curves per peer (metrics.jsonl), robust accuracy per attack and norm and accuracy vs eps\n' +
            '(eval-*.json from `mat eval`). The HTML page has no script and loads nothing from the network.\n\n' +
            'Example:\n  mat eval runs/quick --attacks pgd,apgd-ce,apgd-t,square --norms linf,l2,l1 --eps-scales 0.5,1,2\n' +
            '  mat report runs/quick   # then open runs/quick/report.html',
        )
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run directory (holds config.json)',
        })
        .option('out', {
          type: 'string',
          describe: 'Directory for the report files (default: the run directory)',
        }),
    async (args) => {
      runReport(args);
    },
  );
}

export function runReport(a: ReportArgs): { files: string[] } {
  const report = buildReport(loadRunData(a.run));
  const out = a.out ?? a.run;
  fs.mkdirSync(out, { recursive: true });
  const files = [
    ['report.json', JSON.stringify(report, null, 2)],
    ['report.md', renderMarkdown(report)],
    ['report.html', renderHtml(report)],
  ].map(([name, text]) => {
    const file = path.join(out, name);
    writeFileAtomic(file, text);
    return file;
  });
  const charts = report.charts.lines.length + report.charts.bars.length;
  process.stdout.write(
    `report of ${report.run.name}: ${charts} plots, ${report.robustness.length} evaluation(s)\n` +
      files.map((f) => `  ${f}\n`).join('') +
      report.notes.map((n) => `note: ${n}\n`).join(''),
  );
  return { files };
}
