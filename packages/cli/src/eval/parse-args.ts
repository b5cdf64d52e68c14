import { ATTACK_NAMES, NORMS, type AttackName, type Norm } from '@mat/core';

/** Splits "a,b, c" into ["a", "b", "c"]; empty items are errors. */
export function splitList(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new Error(`--${flag} ${value}: empty item in the comma-separated list`);
  return items;
}

/** `--attacks pgd,apgd-ce,…` → attack names, checked against the registry. */
export function parseAttackNames(value: string): AttackName[] {
  return splitList('attacks', value).map((name) => {
    if (!(ATTACK_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--attacks: unknown attack '${name}'; known: ${ATTACK_NAMES.join(', ')}`);
    }
    return name as AttackName;
  });
}

/** `--norms linf,l2` → norms. */
export function parseNorms(value: string): Norm[] {
  return splitList('norms', value).map((norm) => {
    if (!NORMS.includes(norm as Norm))
      throw new Error(`--norms: unknown norm '${norm}'; known: ${NORMS.join(', ')}`);
    return norm as Norm;
  });
}

function positiveNumber(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0)
    throw new Error(`--${flag}: '${text}' is not a number > 0`);
  return v;
}

/**
 * `--eps linf=0.1,l2=1.5,l1=10` → radii per norm; a bare number (`--eps 0.1`) applies to every norm
 * in `norms`. Values may be fractions like `8/255`.
 */
export function parseEps(value: string, norms: readonly Norm[]): Partial<Record<Norm, number>> {
  const number = (text: string) => {
    const m = /^\s*([\d.eE+-]+)\s*\/\s*([\d.eE+-]+)\s*$/.exec(text);
    if (m) return positiveNumber('eps', m[1]) / positiveNumber('eps', m[2]);
    return positiveNumber('eps', text);
  };
  if (!value.includes('=')) {
    const eps = number(value);
    return Object.fromEntries(norms.map((n) => [n, eps]));
  }
  const out: Partial<Record<Norm, number>> = {};
  for (const item of splitList('eps', value)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--eps ${value}: expected norm=value items, e.g. linf=0.1,l2=1.5`);
    const norm = item.slice(0, eq).trim();
    if (!NORMS.includes(norm as Norm))
      throw new Error(`--eps: unknown norm '${norm}'; known: ${NORMS.join(', ')}`);
    out[norm as Norm] = number(item.slice(eq + 1));
  }
  return out;
}

/** `--eps-scales 0.5,1,2` → scales. */
export function parseScales(value: string): number[] {
  return splitList('eps-scales', value).map((s) => positiveNumber('eps-scales', s));
}
