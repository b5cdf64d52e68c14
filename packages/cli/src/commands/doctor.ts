import * as net from 'net';
import type { Argv } from 'yargs';
import { listAvailableBackends, loadDataset } from '@mat/core';

/**
 * What @tensorflow/tfjs-node-gpu 4.22 expects: it links libtensorflow 2.9.1, built against CUDA 11.2 and
 * cuDNN 8.1 (TensorFlow's tested build configurations), on Linux x86_64 with an NVIDIA driver ≥ 450.
 */
export const GPU_EXPECTATIONS =
  'CUDA 11.2 and cuDNN 8.1 (libtensorflow 2.9.1), Linux x86_64, NVIDIA driver >= 450';

interface DoctorArgs {
  'data-dir': string;
  'redis-url': string;
  json: boolean;
}

export function doctorCommand(yargs: Argv): Argv {
  return yargs.command<DoctorArgs>(
    'doctor',
    'Check backends, versions, GPU expectations, Redis and datasets',
    (y) =>
      y
        .option('data-dir', { type: 'string', default: 'data' })
        .option('redis-url', {
          type: 'string',
          default: process.env.MAT_REDIS_URL ?? 'redis://127.0.0.1:6379',
        })
        .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }),
    async (a) => {
      const report = await doctor(a);
      if (a.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const lines: string[] = [`node ${process.version} on ${process.platform}/${process.arch}`, 'backends:'];
      for (const b of report.backends) {
        const detail = b.available ? JSON.stringify(b.details ?? {}) : b.reason;
        lines.push(`  ${b.available ? 'ok ' : '-- '} ${b.name}${detail ? `: ${detail}` : ''}`);
      }
      lines.push(`tfjs-node-gpu needs: ${GPU_EXPECTATIONS}`);
      lines.push(
        `redis ${report.redis.url}: ${report.redis.ok ? 'answers PING' : `unreachable (${report.redis.error})`}`,
      );
      lines.push('datasets:');
      for (const d of report.datasets)
        lines.push(`  ${d.ok ? 'ok ' : '-- '} ${d.name}${d.ok ? '' : `: ${d.error}`}`);
      process.stdout.write(lines.join('\n') + '\n');
    },
  );
}

export async function doctor(a: DoctorArgs) {
  const backends = await listAvailableBackends();
  const redis = await pingRedis(a['redis-url']);
  const datasets = [];
  for (const name of ['fashion-mnist', 'mnist', 'cifar10', 'cifar100']) {
    try {
      const ds = await loadDataset(name, 'test', { dataDir: a['data-dir'] });
      datasets.push({ name, ok: true, testImages: ds.count });
    } catch (err) {
      datasets.push({ name, ok: false, error: (err as Error).message });
    }
  }
  return { node: process.version, backends, gpuExpectations: GPU_EXPECTATIONS, redis, datasets };
}

/** Sends a raw RESP PING; no client library needed to tell whether Redis answers. Never logs the password. */
export function pingRedis(
  urlText: string,
  timeoutMs = 1500,
): Promise<{ url: string; ok: boolean; error?: string }> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return Promise.resolve({ url: '(invalid)', ok: false, error: `invalid Redis URL` });
  }
  const safe = `${url.protocol}//${url.hostname}:${url.port || 6379}`;
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 6379) });
    const done = (ok: boolean, error?: string) => {
      socket.destroy();
      resolve({ url: safe, ok, error });
    };
    socket.setTimeout(timeoutMs, () => done(false, 'timeout'));
    socket.on('error', (err) => done(false, (err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('connect', () => {
      const auth = url.password ? `AUTH ${decodeURIComponent(url.password)}\r\n` : '';
      socket.write(`${auth}PING\r\n`);
    });
    socket.on('data', (buf) => {
      const text = buf.toString();
      if (text.includes('+PONG')) done(true);
      else if (text.startsWith('-')) done(false, text.trim().split('\r\n')[0]);
    });
  });
}
