/** A run config, preset, flag or run name that cannot be used; the message names the problem and its source. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
