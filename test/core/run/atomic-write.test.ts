import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic, writeJsonAtomic } from '../../../packages/core/src/run/atomic-write';

// The module object itself (not a namespace copy of it, whose properties cannot be replaced): the tests
// replace its writeSync, which the atomic write calls.
const fs = jest.requireActual<typeof import('fs')>('fs');

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-atomic-'))));
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes or replaces the whole file and leaves nothing beside it', () => {
    const file = path.join(dir, 'a.bin');
    writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    writeFileAtomic(file, new Uint8Array(new Float32Array([1.5, -2]).buffer));
    expect(new Float32Array(new Uint8Array(fs.readFileSync(file)).buffer)).toEqual(
      new Float32Array([1.5, -2]),
    );
    writeJsonAtomic(path.join(dir, 'b.json'), { x: 1 });
    expect(fs.readFileSync(path.join(dir, 'b.json'), 'utf8')).toBe('{\n  "x": 1\n}\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['a.bin', 'b.json']);
  });

  it('a disk that fills up mid-write (a short write, then ENOSPC): the old file stays whole, no temporary is left', () => {
    const file = path.join(dir, 'peer-0.safetensors');
    const old = Buffer.alloc(1000, 7);
    fs.writeFileSync(file, old);
    // write(2) on a filling disk: it takes what fits and returns a short count, and fails on the next call.
    const realWrite = fs.writeSync;
    let calls = 0;
    jest.spyOn(fs, 'writeSync').mockImplementation(((
      fd: number,
      buffer: Uint8Array,
      offset?: number,
      length?: number,
      position?: number,
    ) => {
      calls++;
      if (calls === 1) return realWrite(fd, buffer, offset, Math.min(length ?? buffer.length, 300), position);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
    let error: NodeJS.ErrnoException | undefined;
    try {
      writeFileAtomic(file, Buffer.alloc(5000, 9));
    } catch (err) {
      error = err as NodeJS.ErrnoException;
    }
    expect(calls).toBe(2); // the short count was not taken for the whole
    expect(error?.message).toBe(
      `cannot write ${file}: no space left on device (ENOSPC); the file there before, if any, is unchanged`,
    );
    expect(error?.code).toBe('ENOSPC');
    expect(fs.readFileSync(file).equals(old)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['peer-0.safetensors']);
  });

  it('short writes that all go through make the whole file', () => {
    const file = path.join(dir, 'c.bin');
    const realWrite = fs.writeSync;
    jest
      .spyOn(fs, 'writeSync')
      .mockImplementation(((
        fd: number,
        buffer: Uint8Array,
        offset?: number,
        length?: number,
        position?: number,
      ) =>
        realWrite(
          fd,
          buffer,
          offset,
          Math.min(length ?? buffer.length, 7),
          position,
        )) as typeof fs.writeSync);
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    writeFileAtomic(file, data);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
  });
});
