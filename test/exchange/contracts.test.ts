import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunDirectory, type RunSummary } from '@mat/core';
import {
  ContractError,
  decodeEvaluationJob,
  decodeEvaluationResult,
  decodeMetricsEntry,
  decodeMetricsRow,
  decodePeerSavedJob,
  decodeRegisterJob,
  decodeRunState,
  decodeRunSummary,
  decodeSlotLease,
  decodeStopJob,
  decodeWorkerRecord,
  encodeMetricsEntry,
  encodeStateUpdate,
  encodeWorkerRecord,
  RateLimit,
  SkipCounter,
} from '@mat/exchange';

function problem(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

const state = {
  status: 'running',
  generation: '2',
  resumeStep: '0',
  lastStep: '10',
  totalSteps: '10',
  step: '3',
  peers: '2',
  checkpointStep: '0',
  runDir: '/runs/r',
  createdAt: '1',
  updatedAt: '2',
};

describe('contracts', () => {
  it('run state: decoded from the hash strings; a wrong field is named; absent run is undefined', () => {
    expect(decodeRunState(state, 'state of r')).toMatchObject({
      status: 'running',
      step: 3,
      stopRequested: false,
    });
    expect(decodeRunState({}, 'state of r')).toBeUndefined();
    expect(problem(() => decodeRunState({ ...state, step: 'abc' }, 'state of r'))).toMatch(
      /^malformed state of r: step: /,
    );
    expect(problem(() => decodeRunState({ ...state, status: 'exploded' }, 'state of r'))).toMatch(/status: /);
    expect(problem(() => decodeRunState({ ...state, peers: '1e400' }, 's'))).toMatch(/peers: /);
    const hostile = Object.fromEntries([...Object.entries(state), ['__proto__', '{}']]);
    expect(problem(() => decodeRunState(hostile, 's'))).toMatch(/__proto__: forbidden key/);
    expect(problem(() => decodeRunState({ ...state, runDir: 'x'.repeat(10000) }, 's'))).toMatch(/runDir: /);
    // A malformed divergence report still reads as a divergence (the run fails naming it).
    expect(decodeRunState({ ...state, divergence: '{nope' }, 's')!.divergence).toMatchObject({
      peer: -1,
      reason: expect.stringMatching(/malformed divergence report/),
    });
    // Writers are checked too.
    expect(encodeStateUpdate({ step: 4, pauseAt: undefined }, 'u')).toEqual({
      set: { step: '4' },
      clear: ['pauseAt'],
    });
    expect(problem(() => encodeStateUpdate({ step: NaN }, 'update of r'))).toMatch(/update of r: step: /);
  });

  it('run state: the stop, divergence and rollback fields round-trip through the contract; bad ones are named', () => {
    const divergence = { peer: 1, step: 7, generation: 2, reason: 'loss is NaN' };
    const { set } = encodeStateUpdate({ stopRequestedAt: 1700000000123, rolledBackFrom: 7, divergence }, 'u');
    expect(set).toEqual({
      stopRequestedAt: '1700000000123',
      rolledBackFrom: '7',
      divergence: JSON.stringify(divergence),
    });
    expect(decodeRunState({ ...state, ...set }, 's')).toMatchObject({
      stopRequestedAt: 1700000000123,
      rolledBackFrom: 7,
      divergence,
    });
    expect(problem(() => decodeRunState({ ...state, stopRequestedAt: 'soon' }, 's'))).toMatch(
      /stopRequestedAt: /,
    );
    expect(problem(() => decodeRunState({ ...state, rolledBackFrom: '-3' }, 's'))).toMatch(
      /rolledBackFrom: /,
    );
    expect(problem(() => encodeStateUpdate({ rolledBackFrom: 1.5 }, 'u'))).toMatch(/rolledBackFrom: /);
    expect(
      problem(() => encodeStateUpdate({ divergence: { ...divergence, peer: 'x' as never } }, 'u')),
    ).toMatch(/divergence\.peer: /);
  });

  it('summary.json: error and missingEvaluations through its schema, for the writer and the readers', () => {
    const summary: RunSummary = {
      metadata: { runtime: 'redis', runId: 'r1' },
      runDir: '/runs/r1',
      stepsDone: 40,
      totalSteps: 40,
      stoppedEarly: false,
      seconds: 12.5,
      imagesPerSecond: 51.2,
      final: {
        step: 40,
        epoch: 1,
        final: true,
        peers: [{ peer: 0, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 }],
      },
      error: 'the final evaluation could not be done',
      missingEvaluations: [{ peer: 1, step: 20, reason: 'its checkpoint was gone' }],
    };
    expect(decodeRunSummary(JSON.stringify(summary), 'summary.json')).toEqual(summary);
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...summary, ...patch });
    expect(problem(() => decodeRunSummary(bad({ missingEvaluations: [{ peer: 'x' }] }), 'f'))).toMatch(
      /^malformed f: missingEvaluations\.0\.peer: .*missingEvaluations\.0\.step: /,
    );
    expect(problem(() => decodeRunSummary(bad({ error: 42 }), 'f'))).toMatch(/error: /);
    // A NaN result (written as null by JSON) is never read as a result.
    const nan = { ...summary.final!, peers: [{ ...summary.final!.peers[0], cleanAccuracy: null }] };
    expect(problem(() => decodeRunSummary(bad({ final: nan }), 'f'))).toMatch(
      /final\.peers\.0\.cleanAccuracy: /,
    );
    // The writer checks first: a malformed summary is never written.
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-summary-'));
    try {
      const dir = new RunDirectory(runDir);
      dir.writeSummary(summary);
      expect(decodeRunSummary(fs.readFileSync(dir.summaryFile, 'utf8'), dir.summaryFile)).toEqual(summary);
      fs.rmSync(dir.summaryFile);
      const malformed = { ...summary, missingEvaluations: [{ peer: -1, step: 20, reason: 'x' }] };
      expect(() => dir.writeSummary(malformed)).toThrow(/not written.*missingEvaluations\.0\.peer/);
      expect(fs.existsSync(dir.summaryFile)).toBe(false);
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('slot leases and worker records', () => {
    const slot = { workerId: 'w', leaseUntil: 1700000000000, step: -1, status: 'claimed' };
    expect(decodeSlotLease(JSON.stringify(slot), 'slot 0')).toEqual(slot);
    expect(problem(() => decodeSlotLease('{"workerId":"w"}', 'slot 0 of r'))).toMatch(
      /^malformed slot 0 of r: leaseUntil/,
    );
    expect(problem(() => decodeSlotLease('not json', 'slot 0'))).toMatch(/not JSON/);
    expect(problem(() => decodeSlotLease(`{"a":"${'x'.repeat(2_000_000)}"}`, 'slot 0'))).toMatch(
      /bytes, at most/,
    );
    const w = { workerId: 'w', host: 'h', pid: 1, peer: null, backend: 'cpu', status: 'idle' as const };
    expect(decodeWorkerRecord(encodeWorkerRecord(w), 'w')).toEqual(w);
    expect(problem(() => decodeWorkerRecord(JSON.stringify({ ...w, pid: '1' }), 'record of w'))).toMatch(
      /pid: /,
    );
    expect(problem(() => decodeWorkerRecord('{"constructor":{"prototype":{}}}', 'w'))).toMatch(
      /forbidden key/,
    );
  });

  it('metrics entries: one schema for writers and readers; NaN is written as null, read back as null', () => {
    const json = encodeMetricsEntry({ type: 'step', peer: 0, step: 1, loss: NaN, lr: 0.1, stepSeconds: 1 });
    expect(JSON.parse(json)).toMatchObject({ loss: null, lr: 0.1 });
    expect(decodeMetricsEntry(json)).toMatchObject({ type: 'step', loss: null, base: null, lr: 0.1 });
    expect(decodeMetricsRow(['1-0', ['m', json]], 'stream')).toMatchObject({ type: 'step', peer: 0 });
    expect(problem(() => decodeMetricsRow(['1-0', ['x', json]], 'mat:{r}:metrics'))).toMatch(
      /metrics entry 1-0 of mat:\{r\}:metrics \(no field m\)/,
    );
    expect(problem(() => decodeMetricsEntry('{"type":"step","peer":"0","step":1}'))).toMatch(/peer: /);
    expect(
      problem(() => decodeMetricsEntry('{"type":"eval","peer":0,"step":1,"__proto__":{"x":1}}')),
    ).toMatch(/__proto__: forbidden key/);
    expect(
      problem(() => encodeMetricsEntry({ type: 'worker', workerId: '', event: 'joined', peer: null })),
    ).toMatch(/workerId: /);
  });

  it('job data: control, checkpoint and evaluation jobs, and evaluation results', () => {
    const typed = { ...state, generation: 2, resumeStep: 0, lastStep: 10, totalSteps: 10, step: 3, peers: 2 };
    const s = { ...typed, checkpointStep: 0, createdAt: 1, updatedAt: 2, status: 'waiting' };
    expect(decodeRegisterJob({ runId: 'r1', config: { peers: 2 }, state: s }).runId).toBe('r1');
    expect(problem(() => decodeRegisterJob({ runId: '', config: {}, state: s }, '7'))).toMatch(
      /^malformed control create\/resume job 7: runId: /,
    );
    expect(problem(() => decodeStopJob({ runId: 'a{b}' }))).toMatch(/runId: run ids are/);
    expect(
      problem(() =>
        decodeRegisterJob({ runId: 'r', config: JSON.parse('{"__proto__":{"peers":3}}'), state: s }),
      ),
    ).toBeDefined();
    expect(decodePeerSavedJob({ runId: 'r', generation: 1, step: 2, peer: 0 })).toEqual({
      runId: 'r',
      generation: 1,
      step: 2,
      peer: 0,
    });
    expect(problem(() => decodePeerSavedJob({ runId: 'r', generation: 1, step: -2, peer: 0 }))).toMatch(
      /step: /,
    );
    expect(problem(() => decodeEvaluationJob({ runId: 'r', step: 1, peer: 0, dir: '/d' }))).toMatch(
      /final: /,
    );
    const result = { peer: 0, step: 1, count: 10, cleanAccuracy: 0.5, robustAccuracy: 0.25 };
    expect(decodeEvaluationResult(result)).toEqual(result);
    expect(problem(() => decodeEvaluationResult({ ...result, cleanAccuracy: NaN }))).toMatch(
      /cleanAccuracy: /,
    );
  });

  it('skips are counted and reported at most a few times per interval', () => {
    let now = 0;
    const lines: string[] = [];
    const skips = new SkipCounter((l) => lines.push(l), new RateLimit(2, 1000, () => now));
    for (let i = 0; i < 10; i++) skips.skip(`entry ${i}`);
    expect(skips.skipped).toBe(10);
    expect(lines).toEqual(['skipped entry 0', 'skipped entry 1']);
    now = 1000;
    skips.skip('entry 10');
    expect(lines[2]).toBe('skipped entry 10 (and 8 more not reported)');
  });
});
