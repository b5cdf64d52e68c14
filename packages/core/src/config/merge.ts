import { PRESETS, PRESET_NAMES } from './presets';
import { ConfigError, parseRunConfig, type RunConfig } from './schema';

type Plain = Record<string, unknown>;

function isPlainObject(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where later layers win; arrays and scalars are replaced, objects merged. */
export function mergeLayers(...layers: unknown[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (!isPlainObject(layer)) throw new ConfigError('a config layer must be an object');
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const prev = out[key];
      out[key] = isPlainObject(prev) && isPlainObject(value) ? mergeLayers(prev, value) : value;
    }
  }
  return out;
}

/** Resolves defaults ← preset ← config file ← flags into a validated config. */
export function resolveRunConfig(opts: { preset?: string; file?: unknown; overrides?: unknown }): RunConfig {
  let preset: unknown;
  if (opts.preset !== undefined) {
    preset = PRESETS[opts.preset];
    if (!preset)
      throw new ConfigError(`unknown preset "${opts.preset}"; known presets: ${PRESET_NAMES.join(', ')}`);
  }
  return parseRunConfig(mergeLayers(preset, opts.file, opts.overrides));
}
