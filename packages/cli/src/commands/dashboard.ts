import type { Argv } from 'yargs';
import { createDashboard } from '@mat/dashboard';
import { describeRedis } from '@mat/exchange';
import { redisConnection, redisOptions, type RedisArgs } from './redis-options';

/**
 * mat dashboard --port 8080 --redis-url redis://host:6379 --redis-password-file F --token …
 *
 * The Redis URL, its password and the token may come from MAT_REDIS_URL, MAT_REDIS_PASSWORD and
 * MAT_DASHBOARD_TOKEN instead (better: flags show up in `ps`); TLS from MAT_REDIS_TLS=1 / MAT_REDIS_CA, as
 * for the coordinator and the workers. No secret is ever printed: not as a yargs default in --help, not in
 * the startup line.
 */

interface DashboardArgs extends RedisArgs {
  port: number;
  host: string;
  token?: string;
  'heartbeat-timeout': number;
  'queues-writable': boolean;
  'runs-dir': string;
}

export function dashboardCommand(yargs: Argv): Argv {
  return yargs.command<DashboardArgs>(
    'dashboard',
    'Serve the queue dashboard (bull-board) and the live run pages',
    (y) =>
      redisOptions(y)
        .usage(
          '$0 dashboard [options]\n\nExamples:\n  mat dashboard --port 8080\n  MAT_DASHBOARD_TOKEN=… mat dashboard --host 0.0.0.0 --redis-url redis://redis:6379',
        )
        .option('port', { type: 'number', default: 8080, describe: 'HTTP port (0: any free port)' })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
        .option('token', {
          type: 'string',
          describe:
            'Require this token (default: $MAT_DASHBOARD_TOKEN; none: open to anyone who can connect)',
        })
        .option('heartbeat-timeout', {
          type: 'number',
          default: 10,
          describe: 'Seconds without heartbeat before a worker shows as lost',
        })
        .option('runs-dir', {
          type: 'string',
          default: 'runs',
          describe:
            'Where the run directories are (--out-dir of the runs): a run Redis lost is shown from its metrics.jsonl',
        })
        .option('queues-writable', {
          type: 'boolean',
          default: false,
          describe: 'Allow retrying, cleaning and adding jobs in bull-board',
        }),
    async (a) => {
      const conn = redisConnection(a);
      const token = a.token ?? (process.env.MAT_DASHBOARD_TOKEN || undefined);
      if (!(a['heartbeat-timeout'] > 0))
        throw new Error('--heartbeat-timeout must be a positive number of seconds');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const dashboard = await createDashboard({
        redisUrl: conn.url,
        redisPassword: conn.password,
        redisTls: conn.tls,
        redisCaFile: conn.caFile,
        token,
        port: a.port,
        host: a.host,
        heartbeatTimeoutMs: a['heartbeat-timeout'] * 1000,
        queuePrefix: a['queue-prefix'],
        queuesWritable: a['queues-writable'],
        runsDir: a['runs-dir'],
        log,
      });
      log(
        `dashboard: ${dashboard.url}/ (queues: ${dashboard.url}/queues) reading ${describeRedis(conn)}` +
          (token ? '; token required' : '; no token: anyone who can reach the port can read it'),
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          log('dashboard: stopping');
          dashboard.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  );
}
