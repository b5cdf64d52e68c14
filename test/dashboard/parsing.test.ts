import {
  classifyHeartbeat,
  isValidRunId,
  isValidStreamId,
  parseMetricsEntry,
  parseStreamRows,
  redactSecrets,
  toWorkerView,
} from '@mat/dashboard';

describe('metrics entries', () => {
  it('decodes through the metrics contract: missing measurements are null, a wrong one skips the entry', () => {
    expect(parseMetricsEntry('{"type":"step","peer":1,"step":7,"loss":0.5,"advAccuracy":null}')).toEqual({
      type: 'step',
      peer: 1,
      step: 7,
      loss: 0.5,
      base: null,
      distill: null,
      advAccuracy: null,
      lr: null,
      stepSeconds: null,
      exchangeSeconds: null,
    });
    expect(parseMetricsEntry('{"type":"eval","peer":0,"step":3,"cleanAccuracy":0.9}')).toMatchObject({
      cleanAccuracy: 0.9,
      robustAccuracy: null,
    });
    expect(parseMetricsEntry('{"type":"worker","workerId":"w1","event":"lost","peer":2}')).toEqual({
      type: 'worker',
      workerId: 'w1',
      event: 'lost',
      peer: 2,
    });
    for (const bad of [
      '{"type":"step","peer":1,"step":7,"loss":0.5,"advAccuracy":"x"}',
      '{"type":"step","peer":1,"step":7,"__proto__":{"loss":1}}',
      '{"type":"step","peer":1,"step":7,"loss":"' + 'x'.repeat(20000) + '"}',
      'not json',
      'null',
      '[1]',
      '{"type":"step","peer":-1,"step":1}',
      '{"type":"step","peer":0.5,"step":1}',
      '{"type":"step","peer":0}',
      '{"type":"eval","peer":"0","step":1}',
      '{"type":"worker","workerId":"w","event":"exploded"}',
      '{"type":"worker","workerId":"","event":"joined"}',
      '{"type":"other","peer":0,"step":0}',
    ])
      expect(parseMetricsEntry(bad)).toBeNull();
  });

  it('reads XRANGE rows: time from the id, field m only, counts what it skips', () => {
    const { entries, skipped } = parseStreamRows([
      ['1700000000123-0', ['m', '{"type":"step","peer":0,"step":1,"loss":1}']],
      ['1700000000124-0', ['x', '{"type":"step","peer":0,"step":2}']],
      ['1700000000125-0', ['m', '{broken']],
      ['1700000000126-3', ['other', 'm', 'm', '{"type":"eval","peer":1,"step":2}']],
    ]);
    expect(skipped).toBe(2);
    expect(entries.map((e) => [e.id, e.time, e.type])).toEqual([
      ['1700000000123-0', 1700000000123, 'step'],
      ['1700000000126-3', 1700000000126, 'eval'],
    ]);
  });

  it("the coordinator's run and checkpoint events are entries (the charts mark them), never malformed", () => {
    const { entries, skipped } = parseStreamRows([
      ['1700000000001-0', ['m', '{"type":"run","event":"create","step":0}']],
      ['1700000000002-0', ['m', '{"type":"run","event":"generation","generation":2,"step":8}']],
      ['1700000000003-0', ['m', '{"type":"run","event":"rollback","step":8,"reason":"peer 1 diverged"}']],
      ['1700000000004-0', ['m', '{"type":"checkpoint","step":8,"dir":"/runs/x/checkpoints/step-00000008"}']],
      ['1700000000005-0', ['m', '{"type":"worker","workerId":"w2","event":"claimed","peer":1}']],
    ]);
    expect(skipped).toBe(0);
    expect(entries.map((e) => [e.type, 'event' in e ? e.event : e.step])).toEqual([
      ['run', 'create'],
      ['run', 'generation'],
      ['run', 'rollback'],
      ['checkpoint', 8],
      ['worker', 'claimed'],
    ]);
  });
});

describe('worker health', () => {
  it('is ok up to half the timeout, late up to the timeout, lost after or without heartbeat', () => {
    expect(classifyHeartbeat(1000, 1000 + 5000, 10000)).toBe('ok');
    expect(classifyHeartbeat(1000, 1000 + 5001, 10000)).toBe('late');
    expect(classifyHeartbeat(1000, 1000 + 10000, 10000)).toBe('late');
    expect(classifyHeartbeat(1000, 1000 + 10001, 10000)).toBe('lost');
    expect(classifyHeartbeat(null, 1000, 10000)).toBe('lost');
  });

  it('shows a record it cannot read as lost with the reason', () => {
    const v = toWorkerView('w9', '{nope', 5000, 10000);
    expect(v).toMatchObject({
      workerId: 'w9',
      health: 'lost',
      error: expect.stringMatching(/heartbeat record of worker w9: .*not JSON/),
    });
    const record = { workerId: 'w1', host: 'h', pid: 7, peer: 2, backend: 'cpu', status: 'training' };
    const ok = toWorkerView('w1', JSON.stringify({ ...record, lastHeartbeat: 4000 }), 5000, 10000);
    expect(ok).toMatchObject({ peer: 2, host: 'h', health: 'ok', heartbeatAgeSeconds: 1 });
    expect(ok.error).toBeUndefined();
    // A record that breaks the contract (a peer that is not an index) is lost, with the field named.
    const bad = toWorkerView('w1', JSON.stringify({ ...record, peer: -1, lastHeartbeat: 4000 }), 5000, 10000);
    expect(bad).toMatchObject({ health: 'lost', error: expect.stringMatching(/peer: /) });
  });
});

describe('ids and secrets', () => {
  it('accepts run ids that fit the key scheme and stream ids only', () => {
    for (const id of ['run-1', 'a', 'R.2_x', 'x'.repeat(128)]) expect(isValidRunId(id)).toBe(true);
    for (const id of ['', '-a', 'a:b', 'a}b', 'a b', '../x', 'x'.repeat(129), 'é'])
      expect(isValidRunId(id)).toBe(false);
    expect(isValidStreamId('1700000000000-0')).toBe(true);
    for (const id of ['1700000000000', '-', '+', '1-2-3', 'a-1', '(1-0'])
      expect(isValidStreamId(id)).toBe(false);
  });

  it('never shows passwords: redacted config fields', () => {
    expect(
      redactSecrets({
        a: 1,
        redis: { password: 'x', url: 'u' },
        list: [{ apiToken: 't', k: 2 }],
        secretKey: 's',
      }),
    ).toEqual({ a: 1, redis: { url: 'u' }, list: [{ k: 2 }] });
  });
});
