import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  buildReport,
  downsample,
  escapeXml,
  lineChart,
  loadRunData,
  MAX_CURVE_POINTS,
  niceTicks,
  renderHtml,
  renderMarkdown,
} from '../../packages/cli/src/report';
import { writeSyntheticRun } from './report-fixture';

describe('mat report (data, Markdown, HTML)', () => {
  let dir: string;
  let runDir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-report-'));
    runDir = writeSyntheticRun(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads metrics (tolerating a half-written last line), the summary and every eval file', () => {
    const data = loadRunData(runDir);
    expect(data.steps).toHaveLength(600);
    expect(data.evals.map((e) => [e.step, e.final])).toEqual([
      [200, false],
      [400, false],
      [600, true],
    ]);
    expect(data.evalFiles.map((f) => f.file)).toEqual([
      'eval-step600-pgd+apgd-ce+apgd-t+square-linf+l2+l1.json',
      'eval-step600-pgd+apgd-ce-linf+l2.json',
    ]);
  });

  it('builds per-peer training curves, per-attack bars and accuracy-vs-eps curves', () => {
    const report = buildReport(loadRunData(runDir), new Date(0));
    expect(report.run).toMatchObject({
      name: 'synthetic',
      peers: 2,
      stepsDone: 600,
      backend: 'native',
      training: 'MAT-MP fixed over PGD-10 linf eps 0.1, PGD-10 l2 eps 1.5',
    });
    const ids = report.charts.lines.map((c) => c.id);
    expect(ids).toEqual([
      'training-loss',
      'training-adv-accuracy',
      'eval-during-training',
      'accuracy-vs-eps-linf',
      'accuracy-vs-eps-l2',
    ]);
    const loss = report.charts.lines[0];
    expect(loss.series.map((s) => s.name)).toEqual(['peer 0', 'peer 1']);
    expect(loss.series[0].points.length).toBe(MAX_CURVE_POINTS);
    // Bucket means keep the curve: the first bucket is near the start, the last near the end.
    expect(loss.series[0].points[0][1]).toBeGreaterThan(2.5);
    expect(loss.series[0].points[MAX_CURVE_POINTS - 1][1]).toBeLessThan(0.6);

    const [bars] = report.charts.bars;
    expect(bars.series.map((s) => s.name)).toEqual(['peer 0', 'peer 1', 'ensemble']);
    expect(bars.categories[0]).toBe('clean');
    expect(bars.categories).toContain('APGD-T l1 10');
    expect(bars.categories).toContain('union l2 1.5');
    expect(bars.categories[bars.categories.length - 1]).toBe('union (all norms)');
    expect(bars.categories).not.toContain('Square-1000 l1 10');

    const linf = report.charts.lines[3];
    const union0 = linf.series.find((s) => s.name === 'peer 0 union')!;
    expect(union0.points.map((p) => p[0])).toEqual([0.05, 0.1, 0.2]);
    expect(union0.points.every((p, i) => i === 0 || p[1] <= union0.points[i - 1][1])).toBe(true);
    // From the sweep file alone, so every union point combines the same attacks.
    expect(linf.series.map((s) => s.name)).toEqual([
      'peer 0 union',
      'peer 1 union',
      'ensemble union',
      'ensemble: PGD-20',
      'ensemble: APGD-CE',
    ]);
    expect(linf.series.map((s) => s.dashed ?? false)).toEqual([false, false, false, true, true]);
    union0.points.forEach((p, i) => expect(p[1]).toBeCloseTo([0.535, 0.41, 0.16][i], 10));
    expect(report.notes).toEqual([]);
  });

  it('says what is missing instead of drawing empty plots', () => {
    const bare = path.join(dir, 'bare');
    fs.mkdirSync(bare);
    fs.copyFileSync(path.join(runDir, 'config.json'), path.join(bare, 'config.json'));
    const report = buildReport(loadRunData(bare));
    expect(report.charts.lines).toEqual([]);
    expect(report.notes.join('\n')).toMatch(/no training steps/);
    expect(report.notes.join('\n')).toMatch(/no eval-\*\.json files: run `mat eval/);
    expect(renderHtml(report)).toMatch(/<li class="note">/);
  });

  it('splits the time and names what was recovered; a complete run misses nothing', () => {
    const report = buildReport(loadRunData(runDir));
    expect(report.missing).toEqual([]);
    const md = renderMarkdown(report);
    for (const row of [
      '| training time | 1m36s (1280.0 adversarial images/s) |',
      '| evaluation time | 18s |',
      '| waiting for workers | 0s |',
      '| recovery time | 6s |',
      '| wall-clock time | 2m00s |',
      '| generations | 2 |',
      '| lost workers | 1 |',
      '| steps redone | 7 |',
    ])
      expect(md).toContain(row);
    expect(md).not.toContain('Missing from this run');
  });

  it('flags what the files lack (summary, steps, a peer of an evaluation, the final evaluation) instead of drawing around it', () => {
    const holes = path.join(dir, 'holes');
    fs.mkdirSync(holes);
    fs.copyFileSync(path.join(runDir, 'config.json'), path.join(holes, 'config.json'));
    const lines = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"step"') || l.startsWith('{"type":"eval"'))
      .filter((l) => !/"type":"step","step":(10|11|12),/.test(l))
      .filter((l) => !/"type":"eval","step":600,/.test(l))
      .filter((l) => l.endsWith('}'))
      .map((l) => {
        const record = JSON.parse(l);
        // Peer 1's evaluation at step 400 never arrived.
        if (record.type === 'eval' && record.step === 400) record.peers = record.peers.slice(0, 1);
        return JSON.stringify(record);
      });
    fs.writeFileSync(path.join(holes, 'metrics.jsonl'), lines.join('\n') + '\n');
    let report = buildReport(loadRunData(holes));
    expect(report.missing).toEqual([
      expect.stringMatching(/^summary\.json is missing/),
      'metrics.jsonl has no line for steps 10–12.',
      'the evaluation at step 400 lacks peer(s) 1.',
    ]);
    expect(renderMarkdown(report)).toContain('## Missing from this run');
    expect(renderHtml(report)).toContain(
      '<li class="missing">metrics.jsonl has no line for steps 10–12.</li>',
    );

    // An ended run without its final evaluation, and with an old summary (no time split).
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    delete summary.timing;
    delete summary.history;
    fs.writeFileSync(path.join(holes, 'summary.json'), JSON.stringify(summary));
    report = buildReport(loadRunData(holes));
    expect(report.missing).toEqual(
      expect.arrayContaining([
        'summary.json has no time breakdown or recovery history (written by an older version).',
        'metrics.jsonl has no final evaluation although the run ended.',
      ]),
    );
    expect(renderMarkdown(report)).toContain('| wall-clock time (not split) | 120 s |');
  });

  it('a failed run and evaluations that were not done are in the report, never left out', () => {
    const failed = path.join(dir, 'failed');
    fs.mkdirSync(failed);
    for (const f of ['config.json', 'metrics.jsonl'])
      fs.copyFileSync(path.join(runDir, f), path.join(failed, f));
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    const missingEvaluations = [
      { peer: 1, step: 200, reason: 'its checkpoint was gone before it was evaluated' },
    ];
    fs.writeFileSync(
      path.join(failed, 'summary.json'),
      JSON.stringify({ ...summary, error: 'peer 0 diverged at step 300', missingEvaluations }),
    );
    const report = buildReport(loadRunData(failed));
    expect(report.run).toMatchObject({ error: 'peer 0 diverged at step 300', missingEvaluations });
    expect(report.notes).toEqual(
      expect.arrayContaining([
        'The run failed: peer 0 diverged at step 300',
        'The evaluation of peer 1 at step 200 was not done: its checkpoint was gone before it was evaluated',
      ]),
    );
    expect(renderMarkdown(report)).toMatch(/- The evaluation of peer 1 at step 200 was not done/);
    // A summary.json that breaks its schema is an error naming the file and the field.
    fs.writeFileSync(path.join(failed, 'summary.json'), JSON.stringify({ ...summary, stepsDone: 'many' }));
    expect(() => loadRunData(failed)).toThrow(/failed[/\\]summary\.json: stepsDone: /);
  });

  it('rejects a corrupt metrics line and a foreign eval file, naming the file', () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(runDir, 'config.json'), path.join(bad, 'config.json'));
    fs.writeFileSync(path.join(bad, 'metrics.jsonl'), '{"type":"step"}\nnot json\n{"type":"step"}\n');
    expect(() => loadRunData(bad)).toThrow(/metrics\.jsonl:2: not valid JSON/);
    fs.writeFileSync(path.join(bad, 'metrics.jsonl'), '');
    fs.writeFileSync(path.join(bad, 'eval-x.json'), '{"kind":"other"}');
    expect(() => loadRunData(bad)).toThrow(/eval-x\.json: not a mat eval file/);
    expect(() => loadRunData(path.join(dir, 'none'))).toThrow(/no config\.json/);
  });

  it('renders Markdown tables with the unions and the eps sweep', () => {
    const md = renderMarkdown(buildReport(loadRunData(runDir)));
    expect(md).toMatch(/^# MAT report: synthetic/);
    expect(md).toMatch(/\| peer 0 \| 80\.0% \| 45\.0% \| 100 \|/);
    expect(md).toMatch(/\| \*\*union l1\*\* \| 10 \| \*\*[\d.]+%\*\* \|/);
    expect(md).toMatch(/\| \*\*union, all norms\*\* \| ×2 \|/);
    expect(md).toMatch(/## Robust accuracy vs eps \(l2\), step 600\n\n\| {2}\| 0\.75 \| 1\.5 \| 3 \|/);
    expect(md).toMatch(/Skipped: square is not defined for l1\./);
  });

  it('renders a self-contained HTML page: inline SVG, no script, no external URL', () => {
    const html = renderHtml(buildReport(loadRunData(runDir)));
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg /g) ?? []).length).toBe(7);
    expect(html).not.toMatch(/<script|<link |src="http|href="http|@import|url\(/i);
  });

  it('draws charts with axes, ticks and legends', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 600, 6)).toEqual([100, 200, 300, 400, 500, 600]);
    expect(niceTicks(0.05, 0.2, 6)).toEqual([0.05, 0.1, 0.15, 0.2]);
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
    const svg = lineChart({
      id: 'demo',
      title: 'Demo <chart>',
      xLabel: 'step',
      yLabel: 'accuracy',
      yFormat: 'percent',
      series: [
        {
          name: 'a',
          points: [
            [0, 0.5],
            [10, 0.75],
          ],
        },
        {
          name: 'b',
          points: [
            [0, 0.25],
            [10, 0.5],
          ],
          dashed: true,
        },
      ],
    });
    expect(svg).toMatch(/<title id="demo-title">Demo &lt;chart&gt;<\/title>/);
    expect(svg).toMatch(/class="x-label"[^>]*>step</);
    expect(svg).toMatch(/class="y-label"[^>]*>accuracy</);
    expect((svg.match(/class="legend-entry"/g) ?? []).length).toBe(2);
    expect(svg).toMatch(/>100%</);
    expect(svg).toMatch(/stroke-dasharray="5 3" d=/);
    // The dashboard parses this markup: a series name from the server stays text, never markup.
    const hostile = lineChart({
      id: 'x"y',
      title: 't',
      xLabel: 'step',
      yLabel: 'loss',
      yFormat: 'number',
      series: [{ name: '<img src=x onerror=alert(1)>"', points: [[1, 1]] }],
    });
    expect(hostile).not.toMatch(/<img|x"y/);
    expect(hostile).toMatch(/data-series="&lt;img src=x onerror=alert\(1\)&gt;&quot;"/);
    expect(
      downsample(
        [
          [0, 0],
          [1, 2],
          [2, 4],
          [3, 6],
        ],
        2,
      ),
    ).toEqual([
      [0.5, 1],
      [2.5, 5],
    ]);
  });
});
