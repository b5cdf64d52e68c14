import { escapeXml, lineChart } from '../report/svg-charts';
import {
  BEST_EPOCH,
  BEST_ROBUST,
  CLEAN,
  EVAL_SECONDS,
  IMAGES_PER_SECOND,
  LAST_ROBUST,
  OVERFIT,
  TRAIN_SECONDS,
  type RunValues,
  type Stat,
  type StudyRow,
} from './aggregate';
import type { ExperimentSpec } from './spec';

/** study.json: everything the tables and charts are made of. */
export interface StudyReport {
  kind: 'mat-study';
  version: 1;
  name: string;
  spec: ExperimentSpec;
  createdAt: string;
  metrics: string[];
  rows: StudyRow[];
  runs: RunValues[];
}

const NOT_ACCURACY = new Set([BEST_EPOCH, TRAIN_SECONDS, EVAL_SECONDS, IMAGES_PER_SECOND]);
const TAIL = [BEST_ROBUST, BEST_EPOCH, LAST_ROBUST, OVERFIT, TRAIN_SECONDS, EVAL_SECONDS, IMAGES_PER_SECOND];

/** Metrics in reading order: clean first, then attacks as they come, then over-fitting and time. */
export function metricOrder(rows: readonly StudyRow[]): string[] {
  const all = [...new Set(rows.flatMap((r) => Object.keys(r.stats)))];
  const head = all.filter((m) => m === CLEAN);
  const middle = all.filter((m) => m !== CLEAN && !TAIL.includes(m));
  return [...head, ...middle, ...TAIL.filter((m) => all.includes(m))];
}

export function buildStudyReport(
  spec: ExperimentSpec,
  rows: StudyRow[],
  runs: RunValues[],
  now = new Date(),
): StudyReport {
  return {
    kind: 'mat-study',
    version: 1,
    name: spec.name,
    spec,
    createdAt: now.toISOString(),
    metrics: metricOrder(rows),
    rows,
    runs,
  };
}

/**
 * "71.2 ± 0.4" (%), or "612 ± 12" for times; "–" for a metric the row lacks; "(1 of 2)" after a value over
 * fewer than the row's `seeds`.
 */
export function formatStat(metric: string, s: Stat | undefined, seeds?: number): string {
  if (!s) return '–';
  const percent = !NOT_ACCURACY.has(metric);
  const f = (v: number) =>
    percent ? (100 * v).toFixed(1) : metric === BEST_EPOCH ? v.toFixed(1) : v.toFixed(0);
  const value = s.sd === undefined ? f(s.mean) : `${f(s.mean)} ± ${f(s.sd)}`;
  return seeds !== undefined && s.n < seeds ? `${value} (${s.n} of ${seeds})` : value;
}

function tableRows(report: StudyReport): { header: string[]; body: string[][] } {
  const header = [
    'configuration',
    'seeds',
    ...report.metrics.map((m) => (NOT_ACCURACY.has(m) ? m : `${m} %`)),
  ];
  const body = report.rows.map((r) => [
    r.group,
    `${r.seeds.length}${r.missing.length > 0 ? ` (+${r.missing.length} missing)` : ''}`,
    ...report.metrics.map((m) => formatStat(m, r.stats[m], r.seeds.length)),
  ]);
  return { header, body };
}

function missingLines(report: StudyReport): string[] {
  // A run missing from every row of its configuration (each evaluated epoch) is named once.
  return [...new Set(report.rows.flatMap((r) => r.missing.map((m) => `${m.name}: ${m.reason}`)))];
}

function noteLines(report: StudyReport): string[] {
  return report.runs.flatMap((r) => r.notes ?? []);
}

/** A titled list under the table, or nothing when it is empty. */
function noteList(title: string, items: readonly string[]): string {
  if (items.length === 0) return '';
  const list = items.map((m) => `<li class="note">${escapeXml(m)}</li>`).join('');
  return `<p class="note">${escapeXml(title)}</p><ul>${list}</ul>`;
}

export function studyMarkdown(report: StudyReport): string {
  const { header, body } = tableRows(report);
  const lines = [
    `# Study ${report.name}`,
    '',
    `Mean ± sample standard deviation over seeds; each run's value is the mean over its peers. ` +
      `Accuracies in %. Written ${report.createdAt}.`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ];
  const missing = missingLines(report);
  if (missing.length > 0) lines.push('', '**Runs not in the table:**', '', ...missing.map((m) => `- ${m}`));
  const notes = noteLines(report);
  if (notes.length > 0) lines.push('', '**Notes:**', '', ...notes.map((m) => `- ${m}`));
  return lines.join('\n') + '\n';
}

export function studyHtml(report: StudyReport): string {
  const { header, body } = tableRows(report);
  const table =
    `<table><tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>\n` +
    body.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('\n') +
    '</table>';
  const chart = lineChart({
    id: 'robust-per-epoch',
    title: 'Robust accuracy per epoch (mean of peers), every run',
    xLabel: 'epoch',
    yLabel: 'robust accuracy',
    yFormat: 'percent',
    series: report.runs
      .filter((r) => r.epoch === undefined && r.curve.length > 0)
      .map((r) => ({ name: r.name, points: r.curve })),
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Study ${escapeXml(report.name)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; } th { background: #f6f6f6; } svg { max-width: 100%; height: auto; }
.note { color: #8a5a00; }
</style></head><body>
<h1>Study ${escapeXml(report.name)}</h1>
<p>Mean ± sample standard deviation over seeds; each run's value is the mean over its peers. Written ${escapeXml(report.createdAt)}.</p>
${table}
${noteList('Runs not in the table:', missingLines(report))}
${noteList('Notes:', noteLines(report))}
<figure>${chart}</figure>
</body></html>
`;
}
