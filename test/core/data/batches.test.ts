import { Batcher, Dataset, PURPOSE_ORDER, Rng } from '@mat/core';

/** Each image is filled with a pattern unique to its index, so a batch can be traced back to its samples. */
function patternDataset(count: number, h: number, w: number, c: number): Dataset {
  const size = h * w * c;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < size; p++) images[i * size + p] = 1 + ((i * 31 + p * 7) % 255); // never 0
  }
  return {
    name: 'pattern',
    split: 'train',
    images,
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    count,
    shape: [h, w, c],
    numClasses: 3,
  };
}

function pixel(ds: Dataset, i: number, r: number, q: number, ch: number): number {
  const [, w, c] = ds.shape;
  return ds.images[i * ds.images.length / ds.count + (r * w + q) * c + ch] / 255;
}

describe('Batcher', () => {
  const ds = patternDataset(10, 5, 6, 2);

  it('covers every sample once per epoch, with labels that travel with their images', () => {
    const batcher = new Batcher(ds, { batchSize: 4, seed: 1, shuffle: true });
    expect(batcher.batchesPerEpoch).toBe(3);
    const seen: number[] = [];
    for (let b = 0; b < 3; b++) {
      const { x, y, size, indices } = batcher.batch(2, b);
      expect(size).toBe(b < 2 ? 4 : 2);
      expect(x.length).toBe(size * 60);
      for (let k = 0; k < size; k++) {
        expect(y[k]).toBe(ds.labels[indices[k]]);
        expect(x[k * 60 + 17]).toBeCloseTo(pixel(ds, indices[k], 1, 2, 1), 7); // (1*6 + 2)*2 + 1 = 17
      }
      seen.push(...indices);
    }
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('uses Rng.derive(seed, epoch, PURPOSE_ORDER) for the order and keeps dataset order without shuffle', () => {
    const shuffled = new Batcher(ds, { batchSize: 10, seed: 9, shuffle: true });
    expect(Array.from(shuffled.batch(4, 0).indices)).toEqual(Array.from(Rng.derive(9, 4, PURPOSE_ORDER).permutation(10)));
    const ordered = new Batcher(ds, { batchSize: 10, seed: 9, shuffle: false });
    expect(Array.from(ordered.batch(4, 0).indices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('is a pure function of (seed, epoch, index): any batch, in any order, from any instance', () => {
    const opts = { batchSize: 3, seed: 42, shuffle: true, augment: { crop: 2, flip: true } };
    const a = new Batcher(ds, opts);
    const first = [a.batch(0, 1), a.batch(1, 2), a.batch(0, 0)];
    const b = new Batcher(ds, opts);
    const again = [b.batch(0, 0), b.batch(1, 2), b.batch(0, 1)].reverse();
    first.forEach((batch, i) => {
      expect(Array.from(again[i].x)).toEqual(Array.from(batch.x));
      expect(Array.from(again[i].y)).toEqual(Array.from(batch.y));
    });
    const otherSeed = new Batcher(ds, { ...opts, seed: 43 }).batch(0, 1);
    expect(Array.from(otherSeed.x)).not.toEqual(Array.from(first[0].x));
  });

  it('gives different epochs different orders', () => {
    const batcher = new Batcher(patternDataset(50, 1, 1, 1), { batchSize: 50, seed: 3, shuffle: true });
    const e0 = Array.from(batcher.batch(0, 0).indices);
    const e1 = Array.from(batcher.batch(1, 0).indices);
    expect(e1).not.toEqual(e0);
    expect([...e1].sort((a, b) => a - b)).toEqual([...e0].sort((a, b) => a - b));
  });

  it('drops the last partial batch on request', () => {
    expect(new Batcher(ds, { batchSize: 4, seed: 0, shuffle: false, dropLast: true }).batchesPerEpoch).toBe(2);
    expect(() => new Batcher(ds, { batchSize: 11, seed: 0, shuffle: false, dropLast: true })).toThrow(/not enough for one batch of 11/);
  });

  it('crop shifts each image by (dy, dx) in [-crop, crop] with zero fill and keeps the shape', () => {
    const crop = 2;
    const [h, w, c] = ds.shape;
    const batcher = new Batcher(ds, { batchSize: 10, seed: 5, shuffle: false, augment: { crop } });
    const shifts = new Set<string>();
    for (let epoch = 0; epoch < 4; epoch++) {
      const { x, size, indices } = batcher.batch(epoch, 0);
      expect(x.length).toBe(size * h * w * c);
      for (let k = 0; k < size; k++) {
        const out = (r: number, q: number, ch: number) => x[k * h * w * c + (r * w + q) * c + ch];
        const matches: string[] = [];
        for (let dy = -crop; dy <= crop; dy++) {
          for (let dx = -crop; dx <= crop; dx++) {
            let ok = true;
            for (let r = 0; r < h && ok; r++) {
              for (let q = 0; q < w && ok; q++) {
                for (let ch = 0; ch < c && ok; ch++) {
                  const inside = r + dy >= 0 && r + dy < h && q + dx >= 0 && q + dx < w;
                  const want = inside ? pixel(ds, indices[k], r + dy, q + dx, ch) : 0;
                  ok = Math.abs(out(r, q, ch) - want) < 1e-7;
                }
              }
            }
            if (ok) matches.push(`${dy},${dx}`);
          }
        }
        expect(matches).toHaveLength(1); // exactly one shift explains the output
        shifts.add(matches[0]);
      }
    }
    expect(shifts.size).toBeGreaterThan(5); // offsets actually vary
  });

  it('flip mirrors left-right, sometimes', () => {
    const [h, w, c] = ds.shape;
    const batcher = new Batcher(ds, { batchSize: 10, seed: 8, shuffle: false, augment: { flip: true } });
    let flipped = 0;
    let kept = 0;
    for (let epoch = 0; epoch < 3; epoch++) {
      const { x, indices } = batcher.batch(epoch, 0);
      for (let k = 0; k < 10; k++) {
        const at = (r: number, q: number, ch: number) => x[k * h * w * c + (r * w + q) * c + ch];
        let same = true;
        let mirror = true;
        for (let r = 0; r < h; r++) {
          for (let q = 0; q < w; q++) {
            for (let ch = 0; ch < c; ch++) {
              same &&= Math.abs(at(r, q, ch) - pixel(ds, indices[k], r, q, ch)) < 1e-7;
              mirror &&= Math.abs(at(r, q, ch) - pixel(ds, indices[k], r, w - 1 - q, ch)) < 1e-7;
            }
          }
        }
        expect(same !== mirror).toBe(true);
        if (mirror) flipped++;
        else kept++;
      }
    }
    expect(flipped).toBeGreaterThan(3);
    expect(kept).toBeGreaterThan(3);
  });

  it('rejects bad options and indices', () => {
    expect(() => new Batcher(ds, { batchSize: 0, seed: 0, shuffle: true })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new Batcher(ds, { batchSize: 2, seed: -1, shuffle: true })).toThrow(/seed must be an integer/);
    expect(() => new Batcher(ds, { batchSize: 2, seed: 0, shuffle: true, augment: { crop: 1.5 } })).toThrow(/augment.crop/);
    const batcher = new Batcher(ds, { batchSize: 4, seed: 0, shuffle: true });
    expect(() => batcher.batch(0, 3)).toThrow(/batch index 3 is outside \[0, 3\)/);
    expect(() => batcher.batch(-1, 0)).toThrow(/epoch must be a non-negative integer/);
  });
});
