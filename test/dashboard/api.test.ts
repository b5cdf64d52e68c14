import { Redis } from 'ioredis';
import { createDashboard, type Dashboard, type RunDetail } from '@mat/dashboard';
import { FakeRun, REDIS_URL, uniqueRunId } from './fake-run';

// The JSON API and the token guard against a real Redis (127.0.0.1:6379, see scripts/ensure-redis.sh).

const TOKEN = `tok-${Math.random().toString(36).slice(2)}-${process.pid}`;
const auth = { Authorization: `Bearer ${TOKEN}` };
const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

describe('dashboard API', () => {
  let redis: Redis;
  let dashboard: Dashboard;
  let run: FakeRun;
  const logged: string[] = [];

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    run = new FakeRun(redis, uniqueRunId('api'));
    await run.create(2, { lastStep: '100', generation: '2' });
    await run.addSteps(2, 1, 6, 3);
    await run.add({ type: 'worker', workerId: 'w-a', event: 'joined', peer: 0 });
    await run.add({ type: 'step', peer: 'zero', step: 1 }); // malformed: skipped, never shown
    await run.heartbeat('w-a', 0, 0);
    await run.heartbeat('w-b', 1, 45000);
    await run.heartbeat('w-spare', null, 120000, 'idle');
    dashboard = await createDashboard({
      redisUrl: REDIS_URL,
      port: 0,
      token: TOKEN,
      heartbeatTimeoutMs: 60000,
      log: (l) => logged.push(l),
    });
  });

  afterAll(async () => {
    await dashboard?.close();
    await run?.remove();
    redis?.disconnect();
  });

  const get = (path: string, headers: Record<string, string> = auth) =>
    fetch(dashboard.url + path, { headers, redirect: 'manual' });

  it('serves the run: state, redacted config, slots, worker health, metrics in stream order', async () => {
    const res = await get(`/api/runs/${run.id}`);
    expect(res.status).toBe(200);
    const d = (await res.json()) as RunDetail;
    expect(d).toMatchObject({
      id: run.id,
      status: 'running',
      step: 6,
      peers: 2,
      checkpointStep: 0,
      lastStep: 100,
      generation: 2,
    });
    expect(d.config).toEqual({
      peers: 2,
      dataset: { name: 'fashion-mnist' },
      model: { name: 'fmnist-cnn' },
      redis: { url: 'redis://x' },
    });
    expect(JSON.stringify(d)).not.toContain('must-not-show');
    expect(d.slots.map((s) => [s.peer, s.workerId])).toEqual([
      [0, 'w-a'],
      [1, 'w-b'],
    ]);
    const health = Object.fromEntries(d.workers.map((w) => [w.workerId, [w.health, w.peer]]));
    expect(health).toEqual({ 'w-a': ['ok', 0], 'w-b': ['late', 1], 'w-spare': ['lost', null] });

    // 6 steps × 2 peers, evaluations at steps 3 and 6 for each peer, one worker event; one malformed entry.
    const kinds = d.metrics.entries.map((e) => e.type);
    expect(kinds.filter((k) => k === 'step')).toHaveLength(12);
    expect(kinds.filter((k) => k === 'eval')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'worker')).toHaveLength(1);
    expect(d.metrics.skipped).toBe(1);
    expect(d.metrics.more).toBe(false);
    const ids = d.metrics.entries.map((e) => e.id);
    expect([...ids].sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || 0)).toEqual(ids);
    const lastStep0 = d.metrics.entries.filter((e) => e.type === 'step' && e.peer === 0).pop();
    expect(lastStep0).toMatchObject({ step: 6, lr: 0.1 });
  });

  it('returns only newer entries after a cursor, and the same cursor when nothing is new', async () => {
    const first = (await (await get(`/api/runs/${run.id}`)).json()) as RunDetail;
    const cursor = first.metrics.lastId as string;
    const empty = (await (await get(`/api/runs/${run.id}?after=${cursor}`)).json()) as RunDetail;
    expect(empty.metrics.entries).toEqual([]);
    expect(empty.metrics.lastId).toBe(cursor);

    await run.addSteps(2, 7, 7);
    const next = (await (await get(`/api/runs/${run.id}?after=${cursor}`)).json()) as RunDetail;
    expect(next.metrics.entries.map((e) => (e.type === 'step' ? [e.peer, e.step] : null))).toEqual([
      [0, 7],
      [1, 7],
    ]);
    expect(next.step).toBe(7);
  });

  it('pages through a long stream with `more`', async () => {
    const small = await createDashboard({ redisUrl: REDIS_URL, port: 0 });
    try {
      // A reader limited to 2000 entries per answer: add enough to need two pages.
      const big = new FakeRun(redis, uniqueRunId('big'));
      await big.create(1);
      const pipe = redis.pipeline();
      for (let s = 0; s < 2100; s++)
        pipe.xadd(big.keys.metrics, '*', 'm', JSON.stringify({ type: 'step', peer: 0, step: s }));
      await pipe.exec();
      try {
        const p1 = (await (await fetch(`${small.url}/api/runs/${big.id}`)).json()) as RunDetail;
        expect([p1.metrics.entries.length, p1.metrics.more]).toEqual([2000, true]);
        const p2 = (await (
          await fetch(`${small.url}/api/runs/${big.id}?after=${p1.metrics.lastId}`)
        ).json()) as RunDetail;
        expect([p2.metrics.entries.length, p2.metrics.more]).toEqual([100, false]);
        expect(p2.metrics.entries[0]).toMatchObject({ step: 2000 });
      } finally {
        await big.remove();
      }
    } finally {
      await small.close();
    }
  });

  it('lists runs from the index', async () => {
    const res = await get('/api/runs');
    const body = (await res.json()) as { runs: Array<{ id: string; status: string; peers: number }> };
    expect(body.runs.find((r) => r.id === run.id)).toMatchObject({ status: 'running', peers: 2 });
  });

  it('answers bad ids, unknown runs, bad cursors and unknown paths with clear errors', async () => {
    let res = await get(`/api/runs/no-such-run-${process.pid}`);
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toMatch(/there is no run "no-such-run-\d+" in Redis/);

    for (const bad of ['a:b', '%7Bx%7D', '-x', 'x'.repeat(129)]) {
      res = await get(`/api/runs/${bad}`);
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toMatch(/run ids are/);
    }

    res = await get(`/api/runs/${run.id}?after=notanid`);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatch(/after must be a stream id/);

    res = await get(`/runs/no-such-run-${process.pid}`, { ...auth, Accept: 'text/html' });
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/there is no run &quot;no-such-run-\d+&quot; in Redis/);

    res = await get('/nowhere', { ...auth, Accept: 'text/html' });
    expect(res.status).toBe(404);
  });

  it('refuses a missing or wrong token, accepts Bearer, ?token= (then a cookie), never logs the token', async () => {
    let res = await get(`/api/runs/${run.id}`, {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(await errorOf(res)).toMatch(/protected by a token/);

    res = await get(`/api/runs/${run.id}`, { Authorization: `Bearer ${TOKEN}x` });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatch(/token is wrong/);

    // The auth scheme is case-insensitive (RFC 7235 §2.1); the token is not.
    for (const scheme of ['bearer', 'BEARER', 'BeArEr'])
      expect((await get(`/api/runs/${run.id}`, { Authorization: `${scheme} ${TOKEN}` })).status).toBe(200);
    res = await get(`/api/runs/${run.id}`, { Authorization: `bearer ${TOKEN.toUpperCase()}` });
    expect(res.status).toBe(401);

    res = await get(`/?token=${TOKEN.slice(0, -1)}`, { Accept: 'text/html' });
    expect(res.status).toBe(401);
    const page = await res.text();
    expect(page).toMatch(/wrong token/);
    expect(page).not.toContain(TOKEN.slice(0, -1));

    // ?token= on a page: a session cookie (not the token) and a redirect to the URL without the token.
    res = await get(`/runs/${run.id}?token=${encodeURIComponent(TOKEN)}&x=1`, { Accept: 'text/html' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/runs/${run.id}?x=1`);
    const setCookie = res.headers.get('set-cookie') as string;
    expect(setCookie).toMatch(/^mat_dashboard_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0];

    res = await get(`/api/runs/${run.id}`, { Cookie: cookie });
    expect(res.status).toBe(200);
    // The session id's last hex digit changed (to another digit whatever it was).
    const forged = cookie.slice(0, -1) + (cookie.endsWith('0') ? '1' : '0');
    res = await get(`/api/runs/${run.id}`, { Cookie: forged });
    expect(res.status).toBe(401);
    // A wrong token with a valid cookie is still refused: the user asked for that token.
    res = await get(`/api/runs/${run.id}`, { Cookie: cookie, Authorization: 'Bearer nope' });
    expect(res.status).toBe(401);

    // A cookie that is not even valid percent-encoding is a wrong session (401), not a server error.
    for (const bad of ['%E0%A4%A', '%', '%zz'.repeat(3)]) {
      res = await get(`/api/runs/${run.id}`, { Cookie: `mat_dashboard_session=${bad}` });
      expect({ bad, status: res.status, error: await errorOf(res) }).toEqual({
        bad,
        status: 401,
        error: expect.stringMatching(/protected by a token/),
      });
    }

    // bull-board sits behind the same guard.
    expect((await get('/queues/api/queues', {})).status).toBe(401);
    res = await get('/queues/api/queues', { Cookie: cookie });
    expect(res.status).toBe(200);
    const queues = ((await res.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
    expect(queues.sort()).toEqual(['mat-checkpoints', 'mat-control', 'mat-evaluations']);

    // /healthz is open and shows nothing of the runs.
    res = await get('/healthz', {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, redis: 'ready' });

    expect(logged.join('\n')).not.toContain(TOKEN);
  });

  it('serves a self-contained page under a nonce-based CSP', async () => {
    const res = await get(`/runs/${run.id}`, { ...auth, Accept: 'text/html' });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') as string;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    const html = await res.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain(`data-run-id="${run.id}"`);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/);
  });

  it('answers 503 (API and page) and an unhealthy /healthz while Redis is gone', async () => {
    // A client whose server is gone (nothing listens on port 1) and that gives up at once.
    const gone = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      disconnectTimeout: 100,
    });
    gone.on('error', () => undefined);
    const d = await createDashboard({ redis: gone, port: 0 });
    try {
      let res = await fetch(`${d.url}/api/runs/${run.id}`);
      expect(res.status).toBe(503);
      expect(await errorOf(res)).toMatch(/could not read the run from Redis/);
      res = await fetch(`${d.url}/runs/${run.id}`, { headers: { Accept: 'text/html' } });
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/503 — Redis unavailable/);
      res = await fetch(`${d.url}/healthz`);
      expect([res.status, ((await res.json()) as { ok: boolean }).ok]).toEqual([503, false]);
    } finally {
      await d.close();
      gone.disconnect();
    }
  });

  it('fails clearly when Redis is unreachable, without showing the password', async () => {
    await expect(createDashboard({ redisUrl: 'redis://:hunter2@127.0.0.1:1', port: 0 })).rejects.toThrow(
      /^cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(password set\): .*ECONNREFUSED/,
    );
    await expect(createDashboard({ redisUrl: 'http://x', port: 0 })).rejects.toThrow(
      /redis:\/\/ or rediss:\/\//,
    );
    await expect(createDashboard({ redisUrl: REDIS_URL, port: 70000 })).rejects.toThrow(/port must be/);
    await expect(createDashboard({ redis, port: dashboard.port })).rejects.toThrow(/already in use/);
  });
});
