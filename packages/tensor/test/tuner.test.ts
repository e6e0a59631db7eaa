/**
 * Kernel choices: the order of pick() (pins, the cache, table order, restrictions), the tuner
 * keeping the fastest row, a row that fails to compile dropped with one line instead of a
 * crash, and the cache across processes: written after tuning, read by a second process that
 * then tunes nothing, and a corrupt or foreign file ignored with one line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChoiceStore,
  type Gpu,
  KernelChoices,
  type KernelProblem,
  type KernelRow,
  type KernelSettings,
  registerRows,
  requestGpu,
  Tensor,
} from '@pfgmpp/tensor/node';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { describe, expect, it, vi } from 'vitest';

/** A row whose bench keeps the CPU busy for `ms` milliseconds (wall-clock timing). */
interface FakeRow extends KernelRow {
  ms: number;
}
const row = (name: string, ms: number, shaders = [`${name}.wgsl`]): FakeRow => ({
  name,
  ms,
  shaders,
});
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the bench's "kernel"
  }
};

/** The host's timing: the wall clock around the fake rows' busy loops. */
async function wallClock(run: () => void): Promise<number> {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

function memoryStore(): ChoiceStore & { files: Map<string, string> } {
  const files = new Map<string, string>();
  return {
    files,
    read: (name) => files.get(name) ?? null,
    write: (name, text) => void files.set(name, text),
    where: (name) => `memory:${name}`,
  };
}

function choices(settings: Partial<KernelSettings> = {}) {
  const lines: string[] = [];
  const store = memoryStore();
  const info = { vendor: 'v', architecture: 'a', device: 'd', description: 'x' } as GPUAdapterInfo;
  const host = { adapterInfo: info, sync: async () => {}, timeGpu: wallClock };
  const k = new KernelChoices(host, {
    rows: null,
    tune: true,
    store,
    log: (l) => lines.push(l),
    ...settings,
  });
  return { k, lines, store };
}

/** A problem of `table` that the rows `fitting` fit. */
function problem(key: string, fitting: FakeRow[], table = fitting): KernelProblem<FakeRow> {
  return { key, table, fits: (r) => fitting.includes(r), bench: (r) => busy(r.ms) };
}

describe('kernel choices (no GPU)', () => {
  const fast = row('fast_one', 1);
  const slow = row('slow_one', 8);
  const broken = row('broken_row', 1, ['broken.wgsl']);
  // The fake tables' rows, so restrictions may name them and a failed shader drops them.
  registerRows([fast, slow, row('matmul_x', 1), broken]);

  it('a restriction naming no row (a typo) is an error listing the rows', () => {
    expect(() => choices({ rows: ['fast_one', 'conv_tilde'] })).toThrow(
      /unknown kernel row conv_tilde \(PFGMPP_KERNELS or restrict\(\)\); the rows: .*conv_tiled_64x64/,
    );
    const { k } = choices();
    expect(() => k.restrict(['matmul_y'])).toThrow(/unknown kernel row matmul_y /);
    k.restrict(['slow']); // a family: every slow_* row
  });

  it('takes the first row that fits before tuning, then the fastest, and caches it', async () => {
    const { k, lines, store } = choices();
    const p = problem('op shape', [slow, fast]);
    expect(k.pick(p).name).toBe('slow_one');
    expect(k.untuned).toBe(1);
    const results = await k.tune();
    expect(results.map((r) => r.chosen)).toEqual(['fast_one']);
    expect(k.pick(p).name).toBe('fast_one');
    // One line for the op: every row's time and the choice.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^kernels: op shape: slow_one [\d.]+ ms, fast_one [\d.]+ ms -> fast_one$/,
    );
    const file = JSON.parse([...store.files.values()][0] as string);
    expect(file.choices).toEqual({ 'op shape': 'fast_one' });
    // A new process (a new KernelChoices on the same store) reads it and tunes nothing.
    const second = new KernelChoices(
      {
        adapterInfo: {
          vendor: 'v',
          architecture: 'a',
          device: 'd',
          description: 'x',
        } as GPUAdapterInfo,
        sync: async () => {},
        timeGpu: wallClock,
      },
      { rows: null, tune: true, store, log: (l) => lines.push(l) },
    );
    expect(second.pick(p).name).toBe('fast_one');
    expect(second.untuned).toBe(0);
  });

  it('a pinned row wins over the cache; a row that fits nothing is not offered', async () => {
    const { k } = choices();
    const p = problem('op shape', [slow, fast]);
    k.pin({ 'op shape': 'slow_one' });
    await k.tune();
    expect(k.pick(p).name).toBe('slow_one');
    expect(k.untuned).toBe(0); // pinned: nothing to tune
    expect(k.usedRows()).toEqual({ 'op shape': 'slow_one' });
    // A problem only one row fits is never tuned.
    expect(k.pick(problem('other', [fast])).name).toBe('fast_one');
    expect(k.untuned).toBe(0);
  });

  it('a restriction orders and limits the rows of the tables it names, and leaves the others', () => {
    const { k } = choices({ rows: ['fast', 'slow_one'] });
    // Families: "fast" is every fast_* row; the order of the list wins over table order.
    expect(k.pick(problem('p', [slow, fast])).name).toBe('fast_one');
    const other = row('matmul_x', 1);
    // A table with none of the named rows is not restricted.
    expect(k.pick(problem('q', [other])).name).toBe('matmul_x');
    // A table with them, where none fits: an error naming the rows that fit.
    expect(() => k.pick(problem('r', [other], [other, fast]))).toThrow(
      /no kernel row among the allowed rows \(fast, slow_one\) fits r; rows that fit: matmul_x/,
    );
  });

  it('times a slow row once: past 1.5x the best so far it is not timed again', async () => {
    const { k } = choices();
    let runs = 0;
    const p: KernelProblem<FakeRow> = {
      key: 'p',
      table: [fast, slow],
      fits: () => true,
      bench: (r) => {
        if (r === slow) runs++;
        busy(r.ms);
      },
    };
    const r = await k.measure(p);
    expect(r?.chosen).toBe('fast_one');
    expect(runs).toBe(2); // the compile run and one timed run
  });

  it('cuts a row over 3x the best on one image of the batch without running it at full size', async () => {
    const { k, lines } = choices();
    const mid = row('mid_one', 2);
    let fullSlowRuns = 0;
    const p: KernelProblem<FakeRow> = {
      key: 'batched',
      table: [fast, mid, slow],
      fits: () => true,
      bench: (r) => {
        if (r === slow) fullSlowRuns++;
        busy(4 * r.ms);
      },
      benchSmall: (r) => busy(r.ms),
    };
    expect(k.pick(p).name).toBe('fast_one');
    const [result] = await k.tune();
    expect(fullSlowRuns).toBe(0);
    expect(result?.timings.find((t) => t.row === 'slow_one')?.cut).toBeGreaterThan(3);
    expect(result?.timings.find((t) => t.row === 'mid_one')?.ms).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/slow_one cut \([\d.]+x on one image\)/);
  });

  it('a row whose shader fails to compile is dropped with one line naming it', async () => {
    const { k, lines } = choices();
    const p = problem('p', [broken, fast]);
    expect(k.pick(p).name).toBe('broken_row');
    expect(
      k.dropShader('broken.wgsl', 'WGSL compilation failed in broken.wgsl:\nline 3: error'),
    ).toBe(true);
    expect(lines).toEqual([
      'kernels: row broken_row failed on this adapter and is dropped: WGSL compilation failed in broken.wgsl: line 3: error',
    ]);
    expect(k.pick(p).name).toBe('fast_one');
    expect(k.dropShader('broken.wgsl', 'again')).toBe(false); // nothing left to drop
  });

  it('tuning off: untuned shapes keep the first row that fits, nothing is measured', async () => {
    const { k, store } = choices({ tune: false });
    const p = problem('p', [slow, fast]);
    expect(k.pick(p).name).toBe('slow_one');
    expect(await k.tune()).toEqual([]);
    expect(k.pick(p).name).toBe('slow_one');
    expect(store.files.size).toBe(0);
  });
});

describe.skipIf(GPU_SKIP_REASON)('kernel choices on the GPU', () => {
  /** A kernel that writes 1s; `bad` plants a WGSL error. */
  const fill = (bad: boolean) => ({
    file: bad ? 'planted_broken.wgsl' : 'planted_ok.wgsl',
    entry: 'main',
    bindings: ['write'] as const,
    workgroupSize: 64,
    source: [
      'override WG: u32 = 64u;',
      '@group(0) @binding(0) var<storage, read_write> y: array<f32>;',
      '@compute @workgroup_size(WG)',
      'fn main(@builtin(global_invocation_id) i: vec3<u32>) {',
      `  if (i.x < 4u) { y[i.x] = 1.0${bad ? ' +' : ''}; }`,
      '}',
    ].join('\n'),
  });
  const rows = [
    { name: 'planted_broken', shaders: ['planted_broken.wgsl'] },
    { name: 'planted_ok', shaders: ['planted_ok.wgsl'] },
  ];
  registerRows(rows);
  const planted = (gpu: Gpu, out: Tensor): KernelProblem<KernelRow> => ({
    key: 'planted 4',
    table: rows,
    fits: () => true,
    bench: (r) => gpu.dispatch(fill(r.name === 'planted_broken'), {}, [out.buffer], null, 1),
  });

  it('a row that fails to compile is dropped with one line while tuning; the step runs again on the others', async () => {
    // A device of its own with tuning on (the test environment turns it off).
    const saved = { tune: process.env.PFGMPP_TUNE, dir: process.env.PFGMPP_CACHE_DIR };
    process.env.PFGMPP_TUNE = '1';
    process.env.PFGMPP_CACHE_DIR = mkdtempSync(join(tmpdir(), 'pfgmpp-drop-'));
    const gpu = await requestGpu();
    process.env.PFGMPP_TUNE = saved.tune;
    process.env.PFGMPP_CACHE_DIR = saved.dir;
    const out = Tensor.empty(gpu, [4]);
    const p = planted(gpu, out);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    let runs = 0;
    try {
      await gpu.tuneKernels(() => {
        runs++;
        p.bench(gpu.kernels.pick(p));
      });
    } finally {
      spy.mockRestore();
    }
    expect(runs).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^kernels: row planted_broken failed on this adapter and is dropped: WGSL compilation failed in planted_broken\.wgsl: shaders\/planted_broken\.wgsl:5:\d+: error/,
    );
    expect(gpu.kernels.pick(p).name).toBe('planted_ok');
    p.bench(gpu.kernels.pick(p));
    expect(Array.from(await out.read())).toEqual([1, 1, 1, 1]);
    out.dispose();
    gpu.destroy();
  });

  it('the cache: written after tuning, read by a second process that tunes nothing; corrupt or foreign files are ignored with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pfgmpp-tune-'));
    const child = () => {
      const r = spawnSync(
        process.execPath,
        [
          '--conditions=pfgmpp-source',
          '--import',
          'tsx',
          join(import.meta.dirname, 'tune-child.ts'),
        ],
        {
          env: { ...process.env, PFGMPP_TUNE: '1', PFGMPP_CACHE_DIR: dir, PFGMPP_KERNELS: '' },
          encoding: 'utf8',
          timeout: 600_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('kernels:'));
      return { ...out, lines } as { tuned: number; used: Record<string, string>; lines: string[] };
    };
    const first = child();
    // conv y, dx, dw and the matmul: each shape that more than one row fits is tuned once.
    expect(first.tuned).toBeGreaterThanOrEqual(3);
    expect(first.lines.filter((l) => l.includes(' -> '))).toHaveLength(first.tuned);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const path = join(dir, files[0] as string);
    const cache = JSON.parse(readFileSync(path, 'utf8'));
    expect(cache.format).toBe('pfgmpp-kernel-choices');
    expect(Object.keys(cache.identity).sort()).toEqual(
      ['architecture', 'description', 'device', 'kernels', 'vendor'].sort(),
    );
    // Every row the run used for a tuned shape is the cached choice.
    for (const [key, rowName] of Object.entries(cache.choices)) {
      if (key in first.used) expect(first.used[key]).toBe(rowName);
    }
    const second = child();
    expect(second.tuned).toBe(0);
    expect(second.lines).toEqual([]);
    expect(second.used).toEqual(first.used);
    // Corrupt: one line, tuned again, the file rewritten.
    writeFileSync(path, '{ not json');
    const third = child();
    expect(third.lines.filter((l) => !l.includes(' -> '))).toEqual([
      `kernels: ${path} is not valid JSON; ignored (rewritten after tuning)`,
    ]);
    expect(third.tuned).toBe(first.tuned);
    expect(JSON.parse(readFileSync(path, 'utf8')).format).toBe('pfgmpp-kernel-choices');
    // Foreign: written for another device and kernel version; one line, not trusted.
    const foreign = JSON.parse(readFileSync(path, 'utf8'));
    foreign.identity.device = 'another-gpu';
    foreign.identity.kernels = '0-00000000';
    for (const key of Object.keys(foreign.choices)) foreign.choices[key] = 'conv_rows_plain';
    writeFileSync(path, JSON.stringify(foreign));
    const fourth = child();
    const notes = fourth.lines.filter((l) => !l.includes(' -> '));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/was written for another device\/kernels \(another-gpu vs /);
    expect(fourth.tuned).toBe(first.tuned);
  });
});
