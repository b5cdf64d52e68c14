/**
 * Per-sample worst case over a set of attacks: a sample counts as robust only if it is classified
 * correctly on the clean input and under every attack of the set. So the union accuracy is never above
 * the accuracy under any one of its attacks, whatever the attacks are.
 */
export function unionCorrect(perAttack: readonly Uint8Array[], clean: Uint8Array): Uint8Array {
  const out = Uint8Array.from(clean);
  for (const ok of perAttack) {
    if (ok.length !== out.length) throw new Error(`union: ${ok.length} samples vs ${out.length}`);
    for (let i = 0; i < out.length; i++) out[i] &= ok[i];
  }
  return out;
}

export function countOnes(flags: Uint8Array): number {
  let n = 0;
  for (const f of flags) n += f;
  return n;
}
