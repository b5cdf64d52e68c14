#!/usr/bin/env node
import { explainRedisError } from '@mat/exchange';
import { main } from './main';

main().catch((err: Error) => {
  // Expected problems (bad config, missing data, corrupt files) are one clear line, not a stack trace.
  process.stderr.write(`error: ${explainRedisError(err.message)}\n`);
  if (process.env.MAT_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
