import type { Argv } from 'yargs';
import { listAvailableBackends, loadDataset } from '@mat/core';
import { connectRedis, describeRedis, type RedisConnection } from '@mat/exchange';
import { formatGpuReport, gpuReport, type NvidiaSmi } from '../gpu-report';
import { redisConnection, redisOptions, type RedisArgs } from './redis-options';

/**
 * What @tensorflow/tfjs-node-gpu 4.22 expects: it links libtensorflow 2.9.1, built against CUDA 11.2 and
 * cuDNN 8.1 (TensorFlow's tested build configurations), and opens the CUDA 11 / cuDNN 8 sonames, which
 * CUDA 11.8 and cuDNN 8.9 keep (the GPU image's default base; docs/gpu.md); Linux x86_64.
 */
export const GPU_EXPECTATIONS =
  'CUDA 11.x and cuDNN 8.x (libtensorflow 2.9.1: built for CUDA 11.2 + cuDNN 8.1, driver >= 450.80.02; ' +
  'the GPU image has CUDA 11.8 + cuDNN 8.9, driver >= 520.61.05), Linux x86_64; not CUDA 12 or cuDNN 9';

interface DoctorArgs extends RedisArgs {
  'data-dir': string;
  json: boolean;
}

export function doctorCommand(yargs: Argv): Argv {
  return yargs.command<DoctorArgs>(
    'doctor',
    'Check backends, versions, GPU expectations, Redis and datasets',
    (y) =>
      redisOptions(y)
        .option('data-dir', { type: 'string', default: 'data' })
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
      lines.push(...formatGpuReport(report.gpu));
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

export async function doctor(
  a: Pick<DoctorArgs, 'data-dir'> & Partial<RedisArgs>,
  opts: { smi?: NvidiaSmi } = {},
) {
  // The environment as given, before the tensorflow backend fills in its GPU defaults.
  const givenEnv = { ...process.env };
  const backends = await listAvailableBackends();
  const gpu = gpuReport({ smi: opts.smi, env: givenEnv });
  const redis = await pingRedis(redisConnection({ 'queue-prefix': 'bull', ...a }));
  const datasets = [];
  for (const name of ['fashion-mnist', 'mnist', 'cifar10', 'cifar100']) {
    try {
      const ds = await loadDataset(name, 'test', { dataDir: a['data-dir'] });
      datasets.push({ name, ok: true, testImages: ds.count });
    } catch (err) {
      datasets.push({ name, ok: false, error: (err as Error).message });
    }
  }
  return { node: process.version, backends, gpuExpectations: GPU_EXPECTATIONS, gpu, redis, datasets };
}

/** Connects as the mat commands do (URL with user, password, TLS, CA) and PINGs; never shows the password. */
export async function pingRedis(
  conn: RedisConnection,
  timeoutMs = 1500,
): Promise<{ url: string; ok: boolean; error?: string }> {
  const url = describeRedis(conn);
  try {
    const redis = await connectRedis(conn, { timeoutMs, name: 'mat-doctor' });
    redis.disconnect();
    return { url, ok: true };
  } catch (err) {
    // The message is "cannot reach Redis at <url>: <reason>"; the reason is what is new here.
    const message = (err as Error).message;
    return {
      url,
      ok: false,
      error: message.startsWith(`cannot reach Redis at ${url}: `)
        ? message.slice(`cannot reach Redis at ${url}: `.length)
        : message,
    };
  }
}
