#!/usr/bin/env node
/**
 * Docker healthchecks of the MAT services (docker-compose.yml), run inside their containers:
 *
 *   node docker/healthcheck.js redis    Redis at $MAT_REDIS_URL answers PING (coordinator: it can reach
 *                                       the runs it coordinates)
 *   node docker/healthcheck.js worker   this container's worker heartbeats: some run's `workers` hash
 *                                       (@mat/exchange runKeys) holds a record with host == this
 *                                       container's hostname and lastHeartbeat younger than
 *                                       $MAT_HEALTH_MAX_AGE_S seconds (default 30); $MAT_HEALTH_HOST
 *                                       replaces the hostname (tests)
 *
 * Redis: $MAT_REDIS_URL (rediss:// for TLS), $MAT_REDIS_PASSWORD, $MAT_REDIS_TLS, $MAT_REDIS_CA, as for the
 * mat commands (the same @mat/exchange redisOptions).
 * Exit 0 = healthy, 1 = not, with one line saying why. The Redis URL and password are never printed.
 */
const os = require('os');
const { Redis } = require('ioredis');
const { RUNS_INDEX_KEY, redisConnectionFromEnv, redisOptions, runKeys } = require('@mat/exchange');

async function workerIsBeating(redis, host, maxAgeMs) {
  const now = Date.now();
  for (const runId of await redis.smembers(RUNS_INDEX_KEY)) {
    const workers = await redis.hgetall(runKeys(runId).workers);
    for (const json of Object.values(workers)) {
      let record;
      try {
        record = JSON.parse(json);
      } catch {
        continue;
      }
      if (record && record.host === host && now - Number(record.lastHeartbeat) <= maxAgeMs) return runId;
    }
  }
  return null;
}

async function main() {
  const mode = process.argv[2];
  if (mode !== 'redis' && mode !== 'worker') throw new Error('usage: healthcheck.js redis|worker');
  // The connection settings of the mat commands (URL with an ACL user, password, TLS, CA file).
  const redis = new Redis({
    ...redisOptions(redisConnectionFromEnv()),
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError = '';
  redis.on('error', (err) => (lastError = err.message)); // reported below, once
  try {
    await redis.connect().catch((err) => {
      throw new Error(`cannot reach Redis: ${lastError || err.message}`);
    });
    if (mode === 'redis') {
      await redis.ping();
      console.log('healthy: Redis answers');
      return;
    }
    const maxAgeS = Number(process.env.MAT_HEALTH_MAX_AGE_S || 30);
    const host = process.env.MAT_HEALTH_HOST || os.hostname();
    const runId = await workerIsBeating(redis, host, maxAgeS * 1000);
    if (!runId) throw new Error(`no heartbeat from host ${host} in the last ${maxAgeS} s`);
    console.log(`healthy: heartbeating in run ${runId}`);
  } finally {
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(`unhealthy: ${err.message}`);
    process.exit(1);
  },
);
