import { ConfigError } from './errors';
import { PRESETS, PRESET_NAMES } from './presets';
import { parseRunConfig, type RunConfig } from './schema';

type Plain = Record<string, unknown>;

/**
 * Keys that no config has and that JavaScript gives a meaning: `__proto__` as an object key (JSON.parse
 * makes it an own key, which an assignment would turn into the object's prototype) or the properties every
 * object inherits. They are refused wherever a config is assembled, so no layer can change a prototype.
 */
export const FORBIDDEN_CONFIG_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws a ConfigError naming `source` and the key path if `value` holds a forbidden key at any depth. */
export function checkConfigKeys(value: unknown, source: string, path: string[] = []): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkConfigKeys(v, source, [...path, String(i)]));
    return;
  }
  if (!isPlainObject(value)) return;
  for (const key of Object.keys(value)) {
    const at = [...path, key];
    if (FORBIDDEN_CONFIG_KEYS.has(key))
      throw new ConfigError(`${source}: ${at.join('.')} is not a config key`);
    checkConfigKeys(value[key], source, at);
  }
}

/**
 * Deep merge where later layers win; arrays and scalars are replaced, objects merged. Undefined values set
 * nothing (an object of undefined values, like the flags not given, sets nothing either).
 */
export function mergeLayers(...layers: unknown[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (!isPlainObject(layer)) throw new ConfigError('a config layer must be an object');
    for (const [key, value] of Object.entries(layer)) {
      if (FORBIDDEN_CONFIG_KEYS.has(key)) throw new ConfigError(`${key} is not a config key`);
      if (value === undefined) continue;
      if (!isPlainObject(value)) {
        out[key] = value;
        continue;
      }
      const given = mergeLayers(value);
      if (Object.keys(given).length === 0 && Object.keys(value).length > 0) continue;
      const prev = out[key];
      out[key] = isPlainObject(prev) ? mergeLayers(prev, given) : given;
    }
  }
  return out;
}

/** A layer of a run config and where it comes from, e.g. "config file my-run.json". */
interface ConfigLayer {
  source: string;
  value: unknown;
}

/** Whether `value` has a value at `path`. */
function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let node = value;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node !== undefined;
}

/**
 * Resolves defaults ← preset ← config file ← flags into a validated config. Errors name the layer a bad
 * value comes from (the preset, the config file by its name, or the flags).
 */
export function resolveRunConfig(opts: {
  preset?: string;
  file?: unknown;
  /** The config file's name, for errors. */
  fileName?: string;
  overrides?: unknown;
}): RunConfig {
  const layers: ConfigLayer[] = [];
  if (opts.preset !== undefined) {
    if (!Object.hasOwn(PRESETS, opts.preset))
      throw new ConfigError(`unknown preset "${opts.preset}"; known presets: ${PRESET_NAMES.join(', ')}`);
    layers.push({ source: `preset ${opts.preset}`, value: PRESETS[opts.preset] });
  }
  if (opts.file !== undefined)
    layers.push({ source: opts.fileName ? `config file ${opts.fileName}` : 'config file', value: opts.file });
  if (opts.overrides !== undefined) layers.push({ source: 'flags', value: opts.overrides });
  for (const { source, value } of layers) {
    if (!isPlainObject(value)) throw new ConfigError(`${source}: a run config must be a JSON object`);
    checkConfigKeys(value, source);
  }
  const sourceOf = (path: readonly PropertyKey[]) =>
    [...layers].reverse().find((l) => hasPath(l.value, path))?.source;
  const sources = layers.map((l) => l.source);
  const what = sources.length > 0 ? `config (${sources.join(' + ')})` : 'config';
  return parseRunConfig(mergeLayers(...layers.map((l) => l.value)), what, sourceOf);
}
