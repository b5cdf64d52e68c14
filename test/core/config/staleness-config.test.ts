import { InProcessTrainer, parseRunConfig } from '@mat/core';

describe('train.maxStaleness (bounded staleness of the process runtimes)', () => {
  it('defaults to 0: synchronous, as before', () => {
    expect(parseRunConfig({}).train.maxStaleness).toBe(0);
    expect(parseRunConfig({ train: { maxStaleness: 3 } }).train.maxStaleness).toBe(3);
  });

  it('names the field of a bad value', () => {
    for (const bad of [-1, 1.5, '2', 1001]) {
      expect(() => parseRunConfig({ train: { maxStaleness: bad } })).toThrow(/train\.maxStaleness/);
    }
  });

  it('is refused with peer sampling, whose leads it could not bound', () => {
    expect(() => parseRunConfig({ peers: 4, method: { peerSample: 2 }, train: { maxStaleness: 1 } })).toThrow(
      /train\.maxStaleness: maxStaleness 1 needs every peer to distil from all others, but method\.peerSample is 2/,
    );
    // Sampling every other peer is no sampling.
    expect(
      parseRunConfig({ peers: 4, method: { peerSample: 3 }, train: { maxStaleness: 1 } }).train.maxStaleness,
    ).toBe(1);
  });

  it('is refused by the in-process trainer, which is synchronous', async () => {
    const config = parseRunConfig({ peers: 2, train: { maxStaleness: 2 } });
    await expect(InProcessTrainer.open(config)).rejects.toThrow(
      /train\.maxStaleness is 2, but the in-process trainer is synchronous: bounded staleness applies to the process runtimes/,
    );
  });
});
