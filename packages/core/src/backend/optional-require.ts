/**
 * Loads a package that may legitimately be absent (an optionalDependency such as `@tensorflow/tfjs-node`,
 * or a sibling workspace package that was not built). Loading is lazy so that merely importing MAT never
 * pulls in a native addon, and a failure becomes a sentence for `mat doctor` instead of a crash.
 */
export type OptionalModule<T> = { ok: true; module: T } | { ok: false; reason: string };

export function optionalRequire<T>(name: string): OptionalModule<T> {
  try {
    // A computed name keeps TypeScript from demanding type declarations for packages that are not
    // installed; `require` (not `import()`) keeps this synchronous and CommonJS-friendly.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require(name) as T;
    return { ok: true, module };
  } catch (error) {
    return { ok: false, reason: describeLoadError(name, error) };
  }
}

function describeLoadError(name: string, error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (code === 'MODULE_NOT_FOUND' && message.includes(`'${name}'`)) {
    return `package ${name} is not installed`;
  }
  // Installed but broken, e.g. a native addon built for another Node ABI or a missing libtensorflow.
  return `package ${name} failed to load: ${message}`;
}
