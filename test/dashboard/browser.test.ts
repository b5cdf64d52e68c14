import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { chartCore, createDashboard, type Dashboard } from '@mat/dashboard';
import { lineChart } from '../../packages/cli/src/report/svg-charts';
import { QUEUES } from '@mat/exchange';
import { FakeRun, REDIS_URL, evalEntry, stepEntry, uniqueRunId } from './fake-run';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core): the page loads, draws a
 * live run's curves and grows them as workers add entries, shows worker health, and a wrong token is
 * refused. Screenshots go to $MAT_SCREENSHOT_DIR (default: a fresh temp dir) for a human to look at.
 */

const QUEUE_PREFIX = `test-dash-q-${process.pid}`;
const TOKEN = `browser-${Math.random().toString(36).slice(2)}`;
const shots =
  process.env.MAT_SCREENSHOT_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mat-dashboard-shots-'));

/** SVG paths drawn for one chart: peer, series and how many points each has. */
function curves(page: Page, chart: string) {
  return page.$$eval(`[data-chart="${chart}"] path[data-peer]`, (paths) =>
    paths.map((p) => ({
      peer: Number(p.getAttribute('data-peer')),
      series: p.getAttribute('data-series'),
      points: Number(p.getAttribute('data-points')),
      lastStep: Number(p.getAttribute('data-last-step')),
      d: p.getAttribute('d') ?? '',
    })),
  );
}

describe('dashboard in a real browser', () => {
  let redis: Redis;
  let run: FakeRun;
  let dashboard: Dashboard;
  let browser: BrowserContext;
  let userDataDir: string;
  let runsDir: string;
  let checkpoints: Queue;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
    redis = new Redis(REDIS_URL);
    run = new FakeRun(redis, uniqueRunId('browser'));
    await run.create(2, { lastStep: '40' });
    // The coordinator's own entries, as it writes them: they are entries like any other, not malformed.
    await run.add({ type: 'run', event: 'create', step: 0 });
    await run.add({ type: 'run', event: 'generation', generation: 1, step: 0 });
    await run.addSteps(2, 1, 10, 5);
    await run.add({ type: 'checkpoint', step: 8, dir: '/runs/x/checkpoints/step-00000008' });
    await run.add({ type: 'worker', workerId: 'worker-a', event: 'joined', peer: 0 });
    await run.add({ type: 'worker', workerId: 'worker-b', event: 'joined', peer: 1 });
    await run.heartbeat('worker-a', 0, 0);
    await run.heartbeat('worker-b', 1, 0);
    await run.heartbeat('worker-old', null, 300000, 'idle');
    runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-dashboard-runs-'));
    // Jobs of this run and of another one in the shared queues: the run page lists only its own.
    checkpoints = new Queue(QUEUES.checkpoints, { connection: redis, prefix: QUEUE_PREFIX });
    await checkpoints.add('peer-saved', { runId: run.id, generation: 1, step: 8, peer: 0 });
    await checkpoints.add('peer-saved', { runId: `${run.id}-other`, generation: 1, step: 4, peer: 1 });
    dashboard = await createDashboard({
      redisUrl: REDIS_URL,
      port: 0,
      runsDir,
      queuePrefix: QUEUE_PREFIX,
      token: TOKEN,
      pollIntervalMs: 300,
      heartbeatTimeoutMs: 60000,
    });
    // A fresh profile dir of our own (playwright takes it as launchPersistentContext's first argument).
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1300 },
      args: CHROMIUM_ARGS,
    });
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await checkpoints?.obliterate({ force: true }).catch(() => undefined);
    await checkpoints?.close();
    await run?.remove();
    redis?.disconnect();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (runsDir) fs.rmSync(runsDir, { recursive: true, force: true });
  });

  it('shows a live run: curves per peer that grow as entries arrive, and worker health', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      const res = await page.goto(`${dashboard.url}/runs/${run.id}?token=${encodeURIComponent(TOKEN)}`);
      expect(res?.status()).toBe(200);
      expect(new URL(page.url()).search).toBe(''); // the token left the address bar
      await page.waitForSelector('[data-chart="loss"] path[data-peer="1"][data-points="10"]');

      const loss = await curves(page, 'loss');
      expect(loss.map((c) => [c.peer, c.points, c.lastStep])).toEqual([
        [0, 10, 10],
        [1, 10, 10],
      ]);
      expect(loss[0].d).not.toBe(loss[1].d); // different data, different curves
      // One palette with mat report's charts (chart-core.js): peer i has the same colour in both.
      const report = lineChart({
        id: 'x',
        title: 'x',
        xLabel: 'step',
        yLabel: 'loss',
        yFormat: 'number',
        series: [0, 1].map((p) => ({ name: `peer ${p}`, points: [[1, p] as [number, number]] })),
      });
      const reportColours = [...report.matchAll(/<path fill="none" stroke="([^"]+)"/g)].map((m) => m[1]);
      const pageColours = await page.$$eval('[data-chart="loss"] path[data-peer]', (ps) =>
        ps.map((p) => p.getAttribute('stroke')),
      );
      expect(pageColours).toEqual(reportColours);
      expect(pageColours).toEqual(chartCore.PALETTE.slice(0, 2));
      const acc = await curves(page, 'accuracy');
      expect(acc.map((c) => [c.series, c.peer, c.points]).sort()).toEqual([
        ['adversarial', 0, 2],
        ['adversarial', 1, 2],
        ['clean', 0, 2],
        ['clean', 1, 2],
      ]);
      for (const chart of ['train-adv-accuracy', 'step-time', 'exchange-latency'])
        expect((await curves(page, chart)).map((c) => c.points)).toEqual([10, 10]);
      // Base and distillation loss per peer, and the learning rate (one curve: it is every peer's).
      expect((await curves(page, 'loss-parts')).map((c) => [c.series, c.peer, c.points])).toEqual([
        ['base', 0, 10],
        ['base', 1, 10],
        ['distillation', 0, 10],
        ['distillation', 1, 10],
      ]);
      expect((await curves(page, 'learning-rate')).map((c) => c.points)).toEqual([10]);
      // Every entry of the stream is counted, none as malformed (2 run events, 20 steps, 4 evaluations,
      // 2 worker events, 1 checkpoint).
      expect(await page.textContent('.summary')).toMatch(/entries\s*29(?!\d)/);
      expect(await page.textContent('.summary')).not.toMatch(/malformed/);
      // The workers table: step time (not a step) in its last column; a spare whose heartbeat stopped is
      // lost, not idle.
      expect(await page.$$eval('#workers th', (th) => th.map((h) => h.textContent))).toContain('step time');
      expect(await page.getAttribute('#workers tr[data-worker="worker-old"]', 'data-status')).toBe('lost');
      expect(await page.textContent('#workers tr[data-worker="worker-old"]')).toMatch(/lost \(last: idle\)/);

      const health = await page.$$eval('#workers tr[data-worker]', (rows) =>
        rows.map((r) => [r.getAttribute('data-worker'), r.getAttribute('data-health')]),
      );
      expect(Object.fromEntries(health)).toEqual({
        'worker-a': 'ok',
        'worker-b': 'ok',
        'worker-old': 'lost',
      });
      expect(await page.textContent('.summary')).toMatch(/step\s*10 \/ 40/);
      await page.screenshot({ path: path.join(shots, 'run-before.png'), fullPage: true });

      // Workers keep training while the page is open: new steps and an evaluation, and one worker dies.
      for (let step = 11; step <= 15; step++) for (const peer of [0, 1]) await run.add(stepEntry(peer, step));
      for (const peer of [0, 1]) await run.add(evalEntry(peer, 15));
      await run.add({ type: 'worker', workerId: 'worker-b', event: 'lost', peer: 1 });
      // The coordinator rolled every peer back to the checkpoint at step 8: generation 2 re-takes steps.
      await run.add({ type: 'run', event: 'generation', generation: 2, step: 8 });

      await page.waitForSelector('[data-chart="loss"] path[data-peer="1"][data-last-step="15"]');
      // Lost as soon as the coordinator says so, although its last heartbeat is recent: not 'training'.
      await page.waitForSelector('#workers tr[data-worker="worker-b"][data-health="lost"]');
      expect(await page.getAttribute('#workers tr[data-worker="worker-b"]', 'data-status')).toBe('lost');
      await page.waitForSelector('[data-chart="loss"] line[data-mark="generation"][data-step="8"]', {
        state: 'attached',
      });
      expect(await page.textContent('[data-chart="loss"]')).toMatch(/gen 2/);
      expect((await curves(page, 'loss')).map((c) => c.points)).toEqual([15, 15]);
      expect((await curves(page, 'accuracy')).map((c) => c.points)).toEqual([3, 3, 3, 3]);
      expect(await page.textContent('.events')).toMatch(/worker-b lost \(peer 1\)/);
      // Only this run's job, not the other run's of the same queue.
      await page.waitForSelector('#jobs tr[data-job]');
      const jobs = await page.$$eval('#jobs tr[data-job] td', (tds) => tds.map((td) => td.textContent));
      expect(jobs).toEqual(['mat-checkpoints', 'peer-saved', 'waiting', '8', '0', expect.any(String)]);
      expect(await page.textContent('#live')).toMatch(/live · updated/);
      await page.screenshot({ path: path.join(shots, 'run-live.png'), fullPage: true });

      // The runs list links to the run.
      await page.goto(`${dashboard.url}/`);
      await page.waitForSelector(`tr[data-run="${run.id}"] a`);
      await page.screenshot({ path: path.join(shots, 'runs.png') });

      expect(errors).toEqual([]); // our pages: no script error, nothing failed to load

      // bull-board renders the run's queues behind the same cookie, and asks no other origin for anything
      // (its template's web font is removed: offline it would fail).
      const elsewhere: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(dashboard.url) && !r.url().startsWith('data:')) elsewhere.push(r.url());
      });
      await page.goto(`${dashboard.url}/queues`);
      await page.waitForSelector('text=mat-control', { timeout: 60000 });
      expect(elsewhere).toEqual([]);
      expect(await page.content()).not.toMatch(/fonts\.googleapis\.com/);
      await page.screenshot({ path: path.join(shots, 'queues.png') });
    } finally {
      await page.close();
    }
  });

  it('a run that ended after one evaluation: the curve keeps its axis, the workers table says they left', async () => {
    const ended = new FakeRun(redis, uniqueRunId('browser-ended'));
    await ended.create(2, { lastStep: '6', status: 'finished' });
    await ended.addSteps(2, 1, 6, 6);
    const page = await browser.newPage();
    try {
      await page.goto(`${dashboard.url}/runs/${ended.id}`);
      // A one-point path has no area (its point is a circle): attached, not "visible".
      await page.waitForSelector('[data-chart="accuracy"] path[data-peer="1"]', { state: 'attached' });
      // One evaluation (step 6): its point is drawn at step 6 of an axis from 0, not at a collapsed origin.
      const circles = await page.$$eval('[data-chart="accuracy"] circle', (cs) =>
        cs.map((c) => Number(c.getAttribute('cx'))),
      );
      const ticks = await page.$$eval('[data-chart="accuracy"] text', (ts) => ts.map((t) => t.textContent));
      expect(circles.length).toBe(4);
      for (const cx of circles) expect(cx).toBeGreaterThan(500); // the right end of a 560-wide chart
      expect(ticks).toEqual(expect.arrayContaining(['0', '6']));
      expect(await page.textContent('#workers')).toMatch(
        /the run has ended \(finished\): its workers have left/,
      );
      expect(await page.textContent('#workers')).not.toMatch(/no worker has reported yet/);
      await page.screenshot({ path: path.join(shots, 'run-ended.png'), fullPage: true });
    } finally {
      await page.close();
      await ended.remove();
    }
  });

  it("Redis restarted empty: the run's history comes from its metrics.jsonl, with a note", async () => {
    /** metrics.jsonl as the coordinator writes it: steps 1..to of 2 peers. */
    const writeMetrics = (dir: string, to: number) => {
      fs.mkdirSync(dir, { recursive: true });
      const lines = [];
      for (let step = 1; step <= to; step++) {
        const peers = [0, 1].map((peer) => {
          const { loss, base, distill, advAccuracy, exchangeSeconds } = stepEntry(peer, step);
          return { peer, loss, base, distill, advAccuracy, exchangeSeconds };
        });
        lines.push(
          JSON.stringify({ type: 'step', step, totalSteps: 20, epoch: 0, lr: 0.1, seconds: 0.8, peers }),
        );
      }
      fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    };
    // 1. Registered again after the restart: the stream starts at the resume (step 6), the file has 1..6.
    const again = new FakeRun(redis, uniqueRunId('browser-again'));
    const againDir = path.join(runsDir, 'elsewhere', again.id);
    writeMetrics(againDir, 6);
    await again.create(2, { lastStep: '20', runDir: againDir });
    await again.add({ type: 'run', event: 'resume', step: 6 });
    await again.addSteps(2, 7, 9, 100);
    // 2. Not in Redis at all: its directory under the dashboard's runs directory.
    const gone = uniqueRunId('browser-gone');
    writeMetrics(path.join(runsDir, gone), 4);
    const page = await browser.newPage();
    try {
      await page.goto(`${dashboard.url}/runs/${again.id}`);
      await page.waitForSelector('[data-chart="loss"] path[data-peer="1"][data-points="9"]');
      expect(await page.textContent('#history-note')).toMatch(
        /Redis lost the start of this run's metrics stream: the curves before it come from .*metrics\.jsonl/,
      );
      expect(await page.textContent('.summary')).toMatch(/entries\s*7(?!\d)/); // the stream's own
      await page.screenshot({ path: path.join(shots, 'run-history.png'), fullPage: true });

      const res = await page.goto(`${dashboard.url}/runs/${gone}`);
      expect(res?.status()).toBe(200);
      await page.waitForSelector('[data-chart="loss"] path[data-peer="0"][data-points="4"]');
      expect(await page.textContent('#history-note')).toMatch(/Redis does not know this run/);
    } finally {
      await page.close();
      await again.remove();
    }
  });

  it('compares runs: one curve per run (mean over its peers), smoothing, x by step, epoch or time', async () => {
    const a = new FakeRun(redis, uniqueRunId('browser-cmp-a'));
    const b = new FakeRun(redis, uniqueRunId('browser-cmp-b'));
    for (const [r, steps] of [
      [a, 10],
      [b, 6],
    ] as const) {
      await r.create(2, { lastStep: '20', totalSteps: '20' });
      await redis.set(r.keys.config, JSON.stringify({ peers: 2, train: { epochs: 2 } }));
      await r.addSteps(2, 1, steps, 100);
    }
    /** The title of each run's curve: "<run>: <value> at <axis> <x>". */
    const titles = (page: Page) =>
      page.$$eval('[data-chart="compare"] path[data-peer] title', (ts) => ts.map((t) => t.textContent ?? ''));
    const page = await browser.newPage();
    try {
      // From the runs list: tick two runs, then Compare.
      await page.goto(`${dashboard.url}/`);
      await page.check(`tr[data-run="${a.id}"] input.pick`);
      await page.check(`tr[data-run="${b.id}"] input.pick`);
      await Promise.all([page.waitForURL(/\/compare\?runs=/), page.click('#compare')]);
      expect(new URL(page.url()).searchParams.get('runs')!.split(',').sort()).toEqual([a.id, b.id].sort());
      await page.waitForSelector('[data-chart="compare"] path[data-peer="1"]');
      const drawn = await curves(page, 'compare');
      expect(Object.fromEntries(drawn.map((c) => [c.series, [c.points, c.lastStep]]))).toEqual({
        [a.id]: [10, 10],
        [b.id]: [6, 6],
      });

      // No smoothing: the curve's last value is the mean of the peers' losses at that step.
      const mean = (step: number) => (stepEntry(0, step).loss + stepEntry(1, step).loss) / 2;
      await page.fill('#smoothing', '0');
      await page.dispatchEvent('#smoothing', 'change');
      const lastValue = () =>
        page.$eval(`[data-chart="compare"] path[data-series="${a.id}"]`, (p) =>
          Number(p.getAttribute('data-last-value')),
        );
      expect(await lastValue()).toBeCloseTo(mean(10), 10);
      // Smoothing (a moving average of a falling loss) lags above the last value.
      await page.fill('#smoothing', '0.9');
      await page.dispatchEvent('#smoothing', 'change');
      // (debiased EMA of the means, computed here independently)
      let ema = 0;
      for (let step = 1; step <= 10; step++) ema = 0.9 * ema + 0.1 * mean(step);
      expect(await lastValue()).toBeCloseTo(ema / (1 - 0.9 ** 10), 10);
      expect(await lastValue()).toBeGreaterThan(mean(10) + 0.05);

      // Epochs: 20 steps in 2 epochs, so step 10 is epoch 1. Time: seconds since the run's first entry.
      await page.selectOption('#x-axis', 'epoch');
      expect((await titles(page)).find((t) => t.startsWith(a.id))).toMatch(/ at epoch 1$/);
      expect((await titles(page)).find((t) => t.startsWith(b.id))).toMatch(/ at epoch 0\.6$/);
      await page.selectOption('#x-axis', 'time');
      expect((await titles(page)).find((t) => t.startsWith(a.id))).toMatch(
        / at seconds since the run started [\d.]+$/,
      );
      await page.selectOption('#metric', 'advAccuracy');
      expect(await page.textContent('[data-chart="compare"] h2')).toBe(
        'Adversarial accuracy on training batches',
      );
      await page.screenshot({ path: path.join(shots, 'compare.png'), fullPage: true });
    } finally {
      await page.close();
      await a.remove();
      await b.remove();
    }
  });

  it('refuses a wrong or missing token and says so', async () => {
    await browser.clearCookies(); // forget the session of the test above
    const page = await browser.newPage();
    try {
      let res = await page.goto(`${dashboard.url}/runs/${run.id}?token=not-the-token`);
      expect(res?.status()).toBe(401);
      expect(await page.textContent('h1')).toMatch(/401 — wrong token/);
      expect(await page.content()).not.toContain(TOKEN);
      await page.screenshot({ path: path.join(shots, 'refused.png') });

      res = await page.goto(`${dashboard.url}/runs/${run.id}`);
      expect(res?.status()).toBe(401);
      expect(await page.textContent('h1')).toMatch(/401 — token required/);
      expect(await page.$$('[data-chart]')).toHaveLength(0);

      // The token form on the 401 page lets a person in.
      await page.fill('input[name="token"]', TOKEN);
      await Promise.all([
        page.waitForURL(`${dashboard.url}/runs/${run.id}`),
        page.click('button[type="submit"]'),
      ]);
      await page.waitForSelector('[data-chart="loss"] path[data-peer="0"]');

      res = await page.goto(`${dashboard.url}/runs/not-a-run-${process.pid}`);
      expect(res?.status()).toBe(404);
      expect(await page.textContent('main')).toMatch(/there is no run "not-a-run-\d+" in Redis/);
    } finally {
      await page.close();
    }
  });
});
