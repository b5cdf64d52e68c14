import { randomBytes } from 'crypto';
import type { AddressInfo } from 'net';
import type { Server } from 'http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { OfflineExpressAdapter } from './offline-board';
import { connectRedis, QUEUES } from '@mat/exchange';
import { tokenGuard, type Refusal } from './auth';
import { contentSecurityPolicy, renderAppPage, renderMessagePage } from './html';
import { isValidRunId, isValidStreamId } from './run-id';
import { readRunJobs } from './run-jobs';
import { RunReader } from './run-reader';

/**
 * `mat dashboard`: one HTTP server with
 *   /queues              bull-board over the run-control queues (QUEUES of @mat/exchange)
 *   /, /runs/:id         the live page: per-peer loss, accuracies, step time, exchange latency, workers
 *   /compare?runs=a,b    several runs' curves overlaid: a metric, smoothing, x by step, epoch or time
 *   /api/runs[/:id]      the JSON the page polls (`?after=<stream id>` returns only newer metrics)
 *   /api/runs/:id/jobs   the run's jobs of the shared queues (bull-board shows every run's, mixed)
 *   /healthz             liveness for Docker (no data, no token)
 * Everything but /healthz requires the token when one is set (see auth.ts).
 */

export interface DashboardOptions {
  /** redis://[user[:password]@]host:port[/db] or rediss:// (TLS). Ignored when `redis` is given. */
  redisUrl?: string;
  /** AUTH password, instead of one in the URL. */
  redisPassword?: string;
  /** TLS even for a redis:// URL. */
  redisTls?: boolean;
  /** PEM file of the CA that signed the Redis server's certificate (implies TLS). */
  redisCaFile?: string;
  /** An existing ioredis client; the dashboard does not close it. */
  redis?: Redis;
  /** When set, every page and API call needs it (Bearer header, ?token= or the cookie that sets). */
  token?: string;
  /** 0 picks a free port. */
  port: number;
  /** @defaultValue '127.0.0.1' (use 0.0.0.0 in a container) */
  host?: string;
  /** Heartbeat age after which a worker shows as lost (late after half). @defaultValue 10000 */
  heartbeatTimeoutMs?: number;
  /** How often the page polls. @defaultValue 1000 */
  pollIntervalMs?: number;
  /** BullMQ key prefix the coordinator uses. @defaultValue 'bull' */
  queuePrefix?: string;
  /** Lets bull-board retry, clean or add jobs. @defaultValue false */
  queuesWritable?: boolean;
  /**
   * Where run directories are (the runs' outDir): a run Redis lost (restarted without persistence) is
   * shown from its metrics.jsonl. Run directories named by Redis (a run's runDir) are read too.
   */
  runsDir?: string;
  /** Where to report Redis trouble; never receives the token or a password. */
  log?: (line: string) => void;
}

export interface Dashboard {
  app: Express;
  server: Server;
  /** e.g. http://127.0.0.1:8080 (no token in it). */
  url: string;
  port: number;
  close(): Promise<void>;
}

const wantsHtml = (req: Request) => !req.path.startsWith('/api/') && req.accepts(['json', 'html']) === 'html';

function sendError(req: Request, res: Response, status: number, title: string, message: string) {
  res.status(status).set('Cache-Control', 'no-store');
  if (!wantsHtml(req)) return res.json({ error: message });
  const nonce = randomBytes(16).toString('base64');
  res.set('Content-Security-Policy', contentSecurityPolicy(nonce));
  return res
    .type('html')
    .send(renderMessagePage(nonce, { status, title, message, tokenForm: status === 401 }));
}

const refuse: Refusal = (req, res, reason) => {
  res.set('WWW-Authenticate', 'Bearer realm="mat-dashboard"');
  sendError(
    req,
    res,
    401,
    reason === 'wrong' ? 'wrong token' : 'token required',
    reason === 'wrong'
      ? 'The dashboard token is wrong: access refused.'
      : 'This dashboard is protected by a token: open it with ?token=… or send Authorization: Bearer ….',
  );
};

const BAD_RUN_ID = "run ids are 1-128 letters, digits, '.', '_' or '-' (starting with a letter or digit)";

export async function createDashboard(options: DashboardOptions): Promise<Dashboard> {
  if (!options.redis && !options.redisUrl) throw new Error('createDashboard needs redisUrl or redis');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new Error(`the dashboard port must be an integer in 0..65535 (got ${options.port})`);
  const pollMs = options.pollIntervalMs ?? 1000;
  const ownsRedis = !options.redis;
  const redis =
    options.redis ??
    (await connectRedis(
      {
        url: options.redisUrl,
        password: options.redisPassword,
        tls: options.redisTls,
        caFile: options.redisCaFile,
      },
      // Commands fail (the API answers 503) rather than wait while Redis is down.
      { log: options.log, name: 'mat-dashboard', maxRetriesPerRequest: 2 },
    ));
  const reader = new RunReader(redis, {
    heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    log: options.log,
    runsDir: options.runsDir,
  });

  const queues = Object.values(QUEUES).map((name) => {
    const queue = new Queue(name, {
      connection: redis,
      prefix: options.queuePrefix ?? 'bull',
      // A read-only dashboard writes nothing, not even BullMQ's queue metadata (a read-only ACL user
      // would refuse it).
      skipMetasUpdate: !options.queuesWritable,
    });
    // Redis trouble is reported once by the connection's own listener (redis-connection.ts); an 'error'
    // event without a listener would end the process.
    queue.on('error', () => undefined);
    return queue;
  });
  const board = new OfflineExpressAdapter().setBasePath('/queues');
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !options.queuesWritable })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'MAT queues' } },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    const up = redis.status === 'ready';
    res.status(up ? 200 : 503).json({ ok: up, redis: up ? 'ready' : redis.status });
  });
  if (options.token !== undefined) app.use(tokenGuard(options.token, refuse));

  app.use('/queues', board.getRouter());

  app.get('/api/runs', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ runs: await reader.listRuns(), now: Date.now() });
  });

  app.get('/api/runs/:id', async (req, res) => {
    const id = req.params.id as string;
    if (!isValidRunId(id)) return sendError(req, res, 404, 'no such run', BAD_RUN_ID);
    const after = req.query.after;
    if (after !== undefined && (typeof after !== 'string' || !isValidStreamId(after)))
      return sendError(req, res, 400, 'bad cursor', 'after must be a stream id such as 1700000000000-0');
    const run = await reader.readRun(id, after as string | undefined);
    if (!run) return sendError(req, res, 404, 'no such run', `there is no run "${id}" in Redis`);
    res.set('Cache-Control', 'no-store').json(run);
  });

  app.get('/api/runs/:id/jobs', async (req, res) => {
    const id = req.params.id as string;
    if (!isValidRunId(id)) return sendError(req, res, 404, 'no such run', BAD_RUN_ID);
    res.set('Cache-Control', 'no-store').json({ jobs: await readRunJobs(queues, id) });
  });

  const page = (runId?: string, compare?: string[]) => (_req: Request, res: Response) => {
    const nonce = randomBytes(16).toString('base64');
    res
      .set('Content-Security-Policy', contentSecurityPolicy(nonce))
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(renderAppPage(nonce, { runId, compare, pollMs }));
  };
  app.get('/', page());
  // Several runs' curves overlaid (e.g. AT vs MAT): /compare?runs=a,b
  app.get('/compare', (req, res) => {
    const ids = String(req.query.runs ?? '')
      .split(',')
      .filter((id) => id !== '');
    if (ids.length === 0 || ids.length > 12 || !ids.every(isValidRunId))
      return sendError(
        req,
        res,
        400,
        'bad run list',
        `runs must be 1 to 12 run ids, comma-separated (${BAD_RUN_ID})`,
      );
    page(undefined, ids)(req, res);
  });
  app.get('/runs/:id', async (req, res) => {
    const id = req.params.id as string;
    if (!isValidRunId(id)) return sendError(req, res, 404, 'no such run', BAD_RUN_ID);
    if (!(await reader.exists(id)))
      return sendError(req, res, 404, 'no such run', `there is no run "${id}" in Redis`);
    page(id)(req, res);
  });

  app.use((req: Request, res: Response) =>
    sendError(req, res, 404, 'not found', `nothing at ${req.path} (try / or /queues)`),
  );
  // Express 5 forwards rejected promises here; Redis being down is the usual cause.
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    options.log?.(`dashboard: ${req.method} ${req.path} failed: ${err.message}`);
    sendError(req, res, 503, 'Redis unavailable', `could not read the run from Redis: ${err.message}`);
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, host);
    s.once('listening', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${options.port} on ${host} is already in use`
            : `cannot listen on ${host}:${options.port}: ${err.message}`,
        ),
      ),
    );
  }).catch(async (err) => {
    await Promise.all(queues.map((q) => q.close()));
    if (ownsRedis) redis.disconnect();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;

  return {
    app,
    server,
    port,
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all(queues.map((q) => q.close()));
      if (ownsRedis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
