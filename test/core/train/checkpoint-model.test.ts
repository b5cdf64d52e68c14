import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createPeers,
  decodeTensorFile,
  encodeTensorFile,
  findCommittedCheckpoint,
  modelFromCheckpoint,
  modelToEntries,
  parseRunConfig,
  readCheckpointPeerWeights,
  saveCheckpoint,
  stepDirName,
  writeFileAtomic,
  writePeerCheckpoint,
  type Peer,
  type RunConfig,
} from '@mat/core';

/**
 * A run directory with committed checkpoints at steps 3 and 5: 3 peers of a small WideResNet (batch norms),
 * with weights and running statistics that differ per peer and per step.
 */
function makeRun(root: string, name: string): { runDir: string; config: RunConfig; peers: Peer[] } {
  const config = parseRunConfig({
    name,
    outDir: root,
    peers: 3,
    data: { dataset: 'cifar10' },
    model: { arch: 'wide-resnet', depth: 10, widen: 1 },
  });
  const runDir = path.join(root, name);
  fs.mkdirSync(runDir, { recursive: true });
  const peers = createPeers(config, { numClasses: 10, shape: [32, 32, 3] });
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  for (const step of [3, 5]) {
    for (const p of peers) {
      for (const { variable } of p.model.params) variable.assign(tf.tidy(() => tf.mul(variable, 1.5)));
      tf.dispose(p.model.forward(x, { training: true, updateStats: true }));
    }
    saveCheckpoint(runDir, peers, { step, seed: config.seed });
  }
  x.dispose();
  return { runDir, config, peers };
}

describe('a peer model out of a checkpoint', () => {
  let root: string;
  let run: ReturnType<typeof makeRun>;
  beforeAll(() => {
    tf.setBackend('cpu');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-ckpt-model-'));
    run = makeRun(root, 'r');
  });
  afterAll(() => {
    run.peers.forEach((p) => {
      p.model.dispose();
      p.optimizer.dispose();
    });
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('finds the newest committed checkpoint, or the one asked for', () => {
    expect(findCommittedCheckpoint(run.runDir).step).toBe(5);
    expect(findCommittedCheckpoint(run.runDir, 3).dir).toBe(
      path.join(run.runDir, 'checkpoints', stepDirName(3)),
    );
  });

  it('gives exactly the weights and batch-norm buffers the peer had at that step, without momentum', () => {
    const weights = readCheckpointPeerWeights(findCommittedCheckpoint(run.runDir), 2);
    expect(weights.entries.some((e) => e.name.includes('/'))).toBe(false);
    expect(weights.entries.filter((e) => e.name.endsWith('.runningVar')).length).toBeGreaterThan(3);
    const model = modelFromCheckpoint(run.config, weights);
    const expected = modelToEntries(run.peers[2].model);
    const got = modelToEntries(model);
    expect(got.map((e) => e.name)).toEqual(expected.map((e) => e.name));
    got.forEach((e, i) =>
      expect(Buffer.from(e.data.buffer).equals(Buffer.from(expected[i].data.buffer))).toBe(true),
    );
    // Peer 2 differs from peer 0: the right file was read.
    const peer0 = modelFromCheckpoint(
      run.config,
      readCheckpointPeerWeights(findCommittedCheckpoint(run.runDir), 0),
    );
    const other = modelToEntries(peer0);
    expect(Buffer.from(other[0].data.buffer).equals(Buffer.from(got[0].data.buffer))).toBe(false);
    model.dispose();
    peer0.dispose();
  });

  it('refuses an unknown or uncommitted step, listing the committed ones', () => {
    expect(() => findCommittedCheckpoint(run.runDir, 4)).toThrow(
      /no checkpoint at step 4 \(committed: step 3, 5\)/,
    );
    // A checkpoint whose peer files were written but never committed (the run stopped in between).
    writePeerCheckpoint(run.runDir, run.peers[0], { step: 7, seed: 0 });
    expect(() => findCommittedCheckpoint(run.runDir, 7)).toThrow(
      /step-00000007: the checkpoint at step 7 was never committed \(no manifest\.json.*\(committed: step 3, 5\)/,
    );
    // The newest committed one is still 5, not the partial 7.
    expect(findCommittedCheckpoint(run.runDir).step).toBe(5);
    expect(() => findCommittedCheckpoint(run.runDir, -1)).toThrow(/integer ≥ 0/);
    const empty = path.join(root, 'empty');
    fs.mkdirSync(path.join(empty, 'checkpoints', stepDirName(2)), { recursive: true });
    expect(() => findCommittedCheckpoint(empty)).toThrow(
      /checkpoints: no committed checkpoint \(step 2 never committed: no manifest\.json\)/,
    );
  });

  it('refuses a peer that is not there', () => {
    const ckpt = findCommittedCheckpoint(run.runDir);
    expect(() => readCheckpointPeerWeights(ckpt, 3)).toThrow(
      /no peer 3; the checkpoint has 3 peer\(s\): 0\.\.2/,
    );
    expect(() => readCheckpointPeerWeights(ckpt, 1.5)).toThrow(/no peer 1\.5/);
  });

  it('refuses non-finite weights, a file of another peer or step, and stray entries, naming the file', () => {
    const ckpt = findCommittedCheckpoint(run.runDir, 3);
    const file = path.join(ckpt.dir, 'peer-1.safetensors');
    const original = fs.readFileSync(file);
    const rewrite = (edit: (f: ReturnType<typeof decodeTensorFile>) => void) => {
      const decoded = decodeTensorFile(original, file);
      edit(decoded);
      writeFileAtomic(file, encodeTensorFile(decoded.entries, decoded.metadata));
    };
    try {
      rewrite((f) => ((f.tensors.get('param/fc.kernel')?.data as Float32Array)[10] = NaN));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(
        /peer-1\.safetensors: weights are not finite \(NaN or ±Infinity\): param\/fc\.kernel \(1\)$/,
      );
      // NaN momentum does not matter for the model.
      rewrite((f) => ((f.tensors.get('momentum/fc.kernel')?.data as Float32Array)[0] = NaN));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).not.toThrow();
      rewrite((f) => (f.metadata.peer = '0'));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(
        /peer-1\.safetensors: holds peer 0, expected peer 1/,
      );
      rewrite((f) => (f.metadata.step = '5'));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(/is from step 5, the manifest says 3/);
      rewrite((f) => (f.metadata.format = 'mat-weights'));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(
        /not a MAT checkpoint file \(format "mat-weights"\)/,
      );
      rewrite((f) =>
        f.entries.push({ name: 'extra', shape: [], dtype: 'float32', data: new Float32Array(1) }),
      );
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(
        /entries outside param\/, buffer\/, momentum\/: extra/,
      );
      rewrite((f) => (f.entries = f.entries.filter((e) => e.name !== 'param/fc.bias')));
      expect(() => modelFromCheckpoint(run.config, readCheckpointPeerWeights(ckpt, 1))).toThrow(
        /peer-1\.safetensors: weights do not fit model wide-resnet; missing: fc\.bias/,
      );
      fs.writeFileSync(file, original.subarray(0, 100));
      expect(() => readCheckpointPeerWeights(ckpt, 1)).toThrow(/peer-1\.safetensors: invalid weight file/);
    } finally {
      fs.writeFileSync(file, original);
    }
    const wrongArch = parseRunConfig({ model: { arch: 'resnet18' } });
    expect(() => modelFromCheckpoint(wrongArch, readCheckpointPeerWeights(ckpt, 1))).toThrow(
      /is a wide-resnet model, the run config says resnet18/,
    );
  });
});
