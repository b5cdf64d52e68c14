import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium';
import { chromium, type BrowserContext } from 'playwright-core';
import { runReport } from '../../packages/cli/src/commands/report';
import { writeSyntheticRun } from './report-fixture';

/**
 * report.html in a real browser (Debian's chromium, driven by playwright-core): the page loads from disk
 * with no network request, every plot is drawn with a title, axis labels, ticks and a legend, and a
 * screenshot is taken (MAT_REPORT_SCREENSHOT=<file.png> keeps it for a look).
 */

describe('report.html in chromium', () => {
  let dir: string;
  let context: BrowserContext;
  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-report-browser-'));
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });
  afterAll(async () => {
    await context?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows every plot, labelled, without loading anything from the network', async () => {
    const runDir = writeSyntheticRun(dir);
    const write = process.stdout.write;
    process.stdout.write = () => true; // runReport prints the file list
    try {
      runReport({ run: runDir });
    } finally {
      process.stdout.write = write;
    }
    const page = await context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.goto(`file://${path.resolve(runDir, 'report.html')}`);

    expect(await page.title()).toBe('MAT report: synthetic');
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(errors).toEqual([]);

    // The test tsconfig has no DOM lib: describe the few DOM members used in the page.
    interface Node {
      textContent: string | null;
      getAttribute(name: string): string | null;
      querySelectorAll(selector: string): ArrayLike<Node>;
    }
    const charts = await page.$$eval('svg[data-chart]', (svgs) =>
      svgs.map((svg) => {
        const nodes = (sel: string) => Array.from(svg.querySelectorAll(sel) as ArrayLike<Node>);
        const text = (sel: string) => nodes(sel).map((t) => t.textContent ?? '');
        const box = svg.getBoundingClientRect();
        return {
          id: svg.getAttribute('data-chart'),
          title: text('title')[0],
          xLabel: text('.x-label')[0],
          yLabel: text('.y-label')[0] ?? '',
          ticks: text('.x-tick, .y-tick').length,
          legend: text('.legend-entry text'),
          series: nodes('g.series').map((g) => ({
            name: g.getAttribute('data-series'),
            points: Number(g.getAttribute('data-points')),
            marks: g.querySelectorAll('path, rect').length,
          })),
          width: box.width,
          height: box.height,
        };
      }),
    );
    expect(charts.map((c) => c.id)).toEqual([
      'training-loss',
      'training-adv-accuracy',
      'eval-during-training',
      'robust-step600-eval-step600-pgd+apgd-ce+apgd-t+square-linf+l2+l1',
      'robust-step600-eval-step600-pgd+apgd-ce-linf+l2',
      'accuracy-vs-eps-linf',
      'accuracy-vs-eps-l2',
    ]);
    for (const c of charts) {
      expect(c.title.length).toBeGreaterThan(10);
      expect(c.xLabel).toMatch(/training step|accuracy|eps \((linf|l2)\)/);
      if (!c.id!.startsWith('robust')) expect(c.yLabel).toMatch(/loss|accuracy/);
      expect(c.ticks).toBeGreaterThanOrEqual(4);
      expect(c.legend).toEqual(c.series.map((s) => s.name));
      for (const s of c.series) {
        expect(s.points).toBeGreaterThan(0);
        expect(s.marks).toBeGreaterThan(0);
      }
      expect(c.width).toBeGreaterThan(600);
      expect(c.height).toBeGreaterThan(250);
    }
    expect(charts[0].legend).toEqual(['peer 0', 'peer 1']);
    expect(charts[3].legend).toEqual(['peer 0', 'peer 1', 'ensemble']);

    const shot = process.env.MAT_REPORT_SCREENSHOT ?? path.join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1000); // width of the full-page shot
    expect(png.readUInt32BE(20)).toBeGreaterThan(2000); // every section rendered, one under the other
    await page.close();
  });
});
