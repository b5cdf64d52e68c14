import * as fs from 'fs';
import { checkConfigKeys, ConfigError, FORBIDDEN_CONFIG_KEYS } from '@mat/core';

/** Reads a JSON config file; errors name the file and the problem. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  checkConfigKeys(value, `config file ${file}`);
  return value;
}

/** A key of a config path: a JavaScript identifier that is no object's built-in property. */
const CONFIG_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * `--set a.b.c=value` overrides: the value is parsed as JSON when it can be (numbers, booleans, arrays),
 * otherwise taken as a string. Every key of the path must be a plain identifier (never `__proto__`), so an
 * override can only ever set a value of the config.
 */
export function parseSetOverrides(items: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${item}: expected key.path=value`);
    const keys = item.slice(0, eq).split('.');
    for (const key of keys) {
      if (!CONFIG_KEY.test(key) || FORBIDDEN_CONFIG_KEYS.has(key))
        throw new ConfigError(`--set ${item}: ${JSON.stringify(key)} is not a config key`);
    }
    const raw = item.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    checkConfigKeys(value, `--set ${item}`);
    let node = out;
    for (const key of keys.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = value;
  }
  return out;
}
