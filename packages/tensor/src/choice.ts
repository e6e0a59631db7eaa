/**
 * Which kernel row runs a problem, per adapter, chosen by measurement.
 *
 * Convolution and matmul are tables of rows (ops/conv/table.ts, ops/matmul/table.ts): each row a
 * kernel path with the shapes it fits. An op describes its problem (a key naming the op and its
 * shape class, the rows that fit, and how to run one row on synthetic inputs of that shape) and
 * asks `pick()` for a row. The answer, in order:
 * 1. a row pinned by the caller (`pin`: a training run's recorded rows, so `--resume` computes
 *    what the uninterrupted run computed, even when the cache is gone);
 * 2. a row chosen earlier on this adapter (tuned in this process, or read from the cache file);
 * 3. the first row that fits in table order; the problem is then remembered as untuned, and the
 *    next `tune()` times every row that fits it (timestamp queries when the adapter has them,
 *    else the wall clock around a sync), keeps the fastest, prints one line, and writes the
 *    cache.
 * `PFGMPP_KERNELS=row,row` (Node) or `restrict()` limits the rows to those named, first named first (a name also
 * matches the rows of its family: `conv_tiled` is every `conv_tiled_*` row), in each table that
 * has a row of those names (`PFGMPP_KERNELS=conv_tiled` leaves the matmul table alone); a
 * problem that no allowed row fits throws, naming the rows that would.
 *
 * The cache is one JSON file per adapter, keyed by vendor, architecture, device, driver
 * description and the kernels' version (a hash of every shader and the table version); a
 * corrupt file or one written for another adapter or version is ignored with one line.
 */
import { GpuError } from './errors.ts';
import { SHADER_SOURCES } from './generated/shaders.ts';

/** Bump when host-side row logic changes what a row computes or how fast (invalidates caches). */
export const KERNEL_TABLE_VERSION = 1;

/** A row of a kernel table. */
export interface KernelRow {
  readonly name: string;
  /** The WGSL files it dispatches (a compile failure in one drops the row). */
  readonly shaders: readonly string[];
}

/** One shape class of one op, as `pick()` sees it (kernelProblem() builds one). */
export interface KernelProblem<R extends KernelRow> {
  /** The op and its shape class, e.g. `conv.y k3x3 s1x1 p1x1 g1 c64>64 i32x32 n16`. */
  readonly key: string;
  /** Every row of the problem's table, in this adapter's order (the choice before tuning). */
  readonly table: readonly R[];
  /** Whether `row` runs this problem on this adapter (its features and limits). */
  fits(row: R): boolean;
  /** Enqueues one run of `row` on synthetic inputs of the problem's shapes. */
  bench(row: R): void;
  /** The same on one image (one matrix) of the batch, where it has more: a cheap first cut. */
  benchSmall?(row: R): void;
  /** Frees the synthetic inputs the benches keep between runs (after measuring). */
  release?(): void;
}

/** Where tuned choices persist between processes (a folder in Node, localStorage in a browser). */
export interface ChoiceStore {
  read(name: string): string | null;
  write(name: string, text: string): void;
  /** Where `name` lives, for messages. */
  where(name: string): string;
}

export interface KernelSettings {
  /** Row names or families allowed; null for all (`PFGMPP_KERNELS`). */
  rows: readonly string[] | null;
  /** Whether `tune()` measures untuned problems (`PFGMPP_TUNE=0` turns it off). */
  tune: boolean;
  store: ChoiceStore | null;
  /** Receives the tuning lines and cache notices. */
  log: (line: string) => void;
}

/** Every row of every kernel table (the tables register theirs): restrictions name them. */
const KNOWN_ROWS = new Map<string, KernelRow>();

/** Adds a table's rows to those a restriction may name and a failed shader drops. */
export function registerRows(rows: readonly KernelRow[]): void {
  for (const r of rows) KNOWN_ROWS.set(r.name, r);
}

/** Throws for a name that is neither a row nor a family of rows (a typo in PFGMPP_KERNELS). */
function checkRowNames(names: readonly string[]): void {
  const known = [...KNOWN_ROWS.keys()];
  const unknown = names.filter((w) => !known.some((n) => KernelChoices.matches(n, w)));
  if (unknown.length) {
    throw new GpuError(
      `unknown kernel row ${unknown.join(', ')} (PFGMPP_KERNELS or restrict()); the rows: ${known.join(', ')}`,
    );
  }
}

/** A table's rows with their shaders, for the op table (registry.ts). */
export function describeRows(rows: readonly KernelRow[], where: string): string {
  return `${rows.map((r) => `${r.name} (${r.shaders.join(', ')})`).join(', ')}, chosen per adapter (${where})`;
}

let defaults: () => KernelSettings = () => ({
  rows: null,
  tune: true,
  store: browserStore(),
  log: (line) => console.log(line),
});

/** Sets how new devices choose kernels (the Node entry point reads the environment). */
export function setKernelSettings(make: () => KernelSettings): void {
  defaults = make;
}

function browserStore(): ChoiceStore | null {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return null;
  return {
    read: (name) => ls.getItem(`pfgmpp:${name}`),
    write: (name, text) => ls.setItem(`pfgmpp:${name}`, text),
    where: (name) => `localStorage["pfgmpp:${name}"]`,
  };
}

/** Parses `PFGMPP_KERNELS`: comma- or space-separated row names; empty means all. */
export function parseRowList(text: string | undefined): string[] | null {
  const names = (text ?? '').split(/[\s,]+/).filter(Boolean);
  return names.length ? names : null;
}

/** FNV-1a over every shader source: the kernels' version for the cache key. */
function shaderHash(): string {
  let h = 0x811c9dc5;
  for (const name of Object.keys(SHADER_SOURCES).sort()) {
    const text = `${name}\n${SHADER_SOURCES[name]}`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}

let kernelsVersion: string | undefined;

export interface Identity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  kernels: string;
}

interface CacheFile {
  format: 'pfgmpp-kernel-choices';
  identity: Identity;
  choices: Record<string, string>;
}

/** Timing of one candidate row, for the tuning line and the benchmarks. */
export interface RowTiming {
  row: string;
  /** Milliseconds per run (best of the timed runs); NaN when the row failed or was cut. */
  ms: number;
  error?: string;
  /** Cut on one image: this many times the best row there, so not run at full size. */
  cut?: number;
}

export interface TuneResult {
  key: string;
  chosen: string;
  timings: RowTiming[];
}

/** Synthetic inputs made on first use and kept until release(). */
function benchInputs<T extends { dispose(): void }>(make: () => T[]) {
  let made: T[] | null = null;
  return {
    get: (): T[] => {
      made ??= make();
      return made;
    },
    release: (): void => {
      for (const t of made ?? []) t.dispose();
      made = null;
    },
  };
}

/**
 * A problem of `table` whose benches run `run` on synthetic inputs of its `shape` (and, where
 * `one` gives a smaller shape, one image or matrix of it for the first cut), made once by
 * `inputs` so that the timings measure the kernels, not the drawing of their inputs.
 */
export function kernelProblem<R extends KernelRow, S, T extends { dispose(): void }>(p: {
  key: string;
  table: readonly R[];
  fits: (row: R) => boolean;
  shape: S;
  /** The shape of one image of the batch; null where the batch is 1. */
  one: (() => S) | null;
  inputs: (shape: S) => T[];
  run: (row: R, shape: S, inputs: T[]) => void;
}): KernelProblem<R> {
  const sized = (shape: S) => ({ shape, inputs: benchInputs(() => p.inputs(shape)) });
  const full = sized(p.shape);
  const one = p.one;
  let small: ReturnType<typeof sized> | null = null;
  return {
    key: p.key,
    table: p.table,
    fits: p.fits,
    bench: (row) => p.run(row, full.shape, full.inputs.get()),
    ...(one && {
      benchSmall: (row: R) => {
        small ??= sized(one());
        p.run(row, small.shape, small.inputs.get());
      },
    }),
    release: () => {
      full.inputs.release();
      small?.inputs.release();
    },
  };
}

/** Rows over this many times the best on one image are not run at full size. */
const CUT_SMALL = 3;

/** A timing as the tuning line shows it. */
export function describeTiming(t: RowTiming): string {
  if (t.cut !== undefined) return `cut (${t.cut.toFixed(1)}x on one image)`;
  return Number.isNaN(t.ms) ? 'failed' : `${t.ms.toFixed(2)} ms`;
}

/** A device's kernel choices: one per Gpu (gpu.kernels). */
export class KernelChoices {
  private readonly pinned = new Map<string, string>();
  private readonly chosen = new Map<string, string>();
  private readonly pending = new Map<string, KernelProblem<KernelRow>>();
  /** Rows that failed on this adapter: never offered again. */
  private readonly broken = new Map<string, string>();
  /** Every key picked in this process and the row that ran it. */
  private readonly used = new Map<string, string>();
  private readonly warned = new Set<string>();
  private loaded = false;
  private allowed: readonly string[] | null = null;
  /** What the cache file is keyed by: this adapter and the kernels' version. */
  readonly identity: Readonly<Identity>;
  /** The cache file's name (for messages and tests). */
  readonly cacheName: string;

  constructor(
    private readonly host: {
      adapterInfo: GPUAdapterInfo;
      /** Submits the queued work, awaits it, and throws for a pipeline that failed. */
      sync(): Promise<void>;
      /** Milliseconds of the work `run` enqueues (GPU timestamps, or the wall clock). */
      timeGpu(run: () => void): Promise<number>;
    },
    private readonly settings: KernelSettings = defaults(),
  ) {
    this.restrict(settings.rows);
    const info = host.adapterInfo;
    kernelsVersion ??= `${KERNEL_TABLE_VERSION}-${shaderHash()}`;
    this.identity = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      kernels: kernelsVersion,
    };
    const slug = `${this.identity.vendor}-${this.identity.architecture}-${this.identity.device}`
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
    this.cacheName = `kernels-${slug || 'adapter'}.json`;
  }

  /** Whether tune() measures (false: untuned problems keep the first row that fits). */
  get tuning(): boolean {
    return this.settings.tune;
  }

  /** Limits the rows to these names or families (null: all), as PFGMPP_KERNELS does. */
  restrict(rows: readonly string[] | null): void {
    if (rows) checkRowNames(rows);
    this.allowed = rows && rows.length ? [...rows] : null;
  }

  static matches(name: string, wanted: string): boolean {
    return name === wanted || name.startsWith(`${wanted}_`);
  }

  /** Whether the restriction names a row of `problem`'s table (else it leaves the table alone). */
  private restricts(problem: KernelProblem<KernelRow>): boolean {
    const a = this.allowed;
    return !!a?.some((w) => problem.table.some((r) => KernelChoices.matches(r.name, w)));
  }

  /** Whether `row` may run `problem`: it works here, the restriction allows it, and it fits. */
  private usable<R extends KernelRow>(problem: KernelProblem<R>, row: R): boolean {
    if (this.broken.has(row.name) || !problem.fits(row)) return false;
    const a = this.allowed;
    return !a || !this.restricts(problem) || a.some((w) => KernelChoices.matches(row.name, w));
  }

  /**
   * The rows of `problem` that the restriction allows, that work here and that fit; under a
   * restriction in the order it names them (`conv_tiled,conv_rows_plain`: the tiled rows first,
   * the plain one where they do not fit), else in table order.
   */
  private available<R extends KernelRow>(problem: KernelProblem<R>): R[] {
    const ok = problem.table.filter((r) => this.usable(problem, r));
    const a = this.allowed;
    if (!a || !this.restricts(problem)) return ok;
    const rank = (r: R) => a.findIndex((w) => KernelChoices.matches(r.name, w));
    return ok
      .map((r, i) => ({ r, i, k: rank(r) }))
      .sort((x, y) => x.k - y.k || x.i - y.i)
      .map((e) => e.r);
  }

  /**
   * Rows to use for these keys ahead of the cache (a run's recorded rows). A pinned row that is
   * not allowed, or does not fit, is passed over with the first row that fits.
   */
  pin(choices: Readonly<Record<string, string>>): void {
    for (const [k, v] of Object.entries(choices)) this.pinned.set(k, v);
  }

  /** Marks a row as failed on this adapter, with one line naming it and the message. */
  private drop(name: string, message: string): void {
    this.broken.set(name, message);
    this.settings.log(
      `kernels: row ${name} failed on this adapter and is dropped: ${message.split('\n').slice(0, 3).join(' ')}`,
    );
  }

  /**
   * Drops, for this adapter, every row that uses shaders/`file` (one whose pipelines failed to
   * compile), with one line naming each and the compiler's message. Returns whether any row was
   * dropped.
   */
  dropShader(file: string, message: string): boolean {
    let dropped = false;
    for (const r of KNOWN_ROWS.values()) {
      if (this.broken.has(r.name) || !r.shaders.includes(file)) continue;
      this.drop(r.name, message);
      dropped = true;
    }
    if (dropped)
      for (const [key, row] of this.chosen) if (this.broken.has(row)) this.chosen.delete(key);
    return dropped;
  }

  /** Forgets the choices of this process and of the cache file (not the pins). For tests. */
  forget(): void {
    this.chosen.clear();
    this.pending.clear();
    this.loaded = true;
  }

  /** The rows that ran each key so far in this process (what a run folder records). */
  usedRows(): Record<string, string> {
    return Object.fromEntries([...this.used].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Forgets which rows ran (usedRows()), e.g. before a test's own calls. */
  clearUsed(): void {
    this.used.clear();
  }

  /** Keys seen without a measured choice. */
  get untuned(): number {
    return this.pending.size;
  }

  /**
   * The row that runs `problem` (see the module comment for the order). Called for every
   * convolution and matmul: a pinned or chosen row is checked alone, the other rows only
   * when it cannot run the problem.
   */
  pick<R extends KernelRow>(problem: KernelProblem<R>): R {
    this.load();
    const key = problem.key;
    const pinned = this.pinned.get(key);
    const want = pinned ?? this.chosen.get(key);
    let row = want === undefined ? undefined : problem.table.find((r) => r.name === want);
    if (row && !this.usable(problem, row)) row = undefined;
    if (!row) {
      const rows = this.available(problem);
      if (rows.length === 0) {
        const why = this.allowed
          ? `the allowed rows (${this.allowed.join(', ')})`
          : 'the rows that compile on this adapter';
        const fit = problem.table.filter((r) => problem.fits(r)).map((r) => r.name);
        throw new GpuError(
          `no kernel row among ${why} fits ${key}; rows that fit: ${fit.join(', ') || 'none'}`,
        );
      }
      if (pinned !== undefined && !this.warned.has(key)) {
        this.warned.add(key);
        this.settings.log(
          `kernels: the recorded row ${pinned} for ${key} is not available here; using ${rows[0]?.name} (results may differ in the last bits)`,
        );
      }
      row = rows[0] as R;
      if (rows.length > 1 && pinned === undefined) {
        this.pending.set(key, problem as unknown as KernelProblem<KernelRow>);
      }
    }
    this.used.set(key, row.name);
    return row;
  }

  /**
   * Times every row that fits each untuned problem and keeps the fastest; prints one line per
   * problem and writes the cache. A row whose pipelines fail to compile is dropped for this
   * adapter with one line naming it and the compiler's message. Does nothing when tuning is
   * off. Returns what was measured.
   */
  async tune(): Promise<TuneResult[]> {
    if (!this.settings.tune) {
      this.pending.clear();
      return [];
    }
    if (this.pending.size === 0) return [];
    const results: TuneResult[] = [];
    for (const [key, problem] of [...this.pending]) {
      this.pending.delete(key);
      if (this.available(problem).length < 2) continue; // nothing to choose between
      const result = await this.measure(problem);
      if (!result) continue;
      this.chosen.set(key, result.chosen);
      results.push(result);
      const list = result.timings.map((t) => `${t.row} ${describeTiming(t)}`).join(', ');
      this.settings.log(`kernels: ${key}: ${list} -> ${result.chosen}`);
    }
    // A restricted run times only some rows: its winners are not this adapter's best.
    if (results.length && !this.allowed) this.save();
    return results;
  }

  /**
   * Times every allowed row that fits `problem` (also for the benchmarks). Where the problem
   * has a batch, each row first runs on one image of it (compiling its pipelines, then timed
   * once), and a row over CUT_SMALL times the best there is not run at full size: on a CPU
   * rasterizer the GPU-shaped rows run 5-20x slower, seconds per run at full size. The rest run
   * once to compile, then are timed; a row whose first timed run is over 1.5x the best so far
   * is not timed again. `full` times every row as often as the best, without cuts.
   */
  async measure<R extends KernelRow>(
    problem: KernelProblem<R>,
    full = false,
  ): Promise<TuneResult | null> {
    try {
      return await this.measureRows(problem, full);
    } finally {
      problem.release?.();
    }
  }

  private async measureRows<R extends KernelRow>(
    problem: KernelProblem<R>,
    full: boolean,
  ): Promise<TuneResult | null> {
    let rows = this.available(problem);
    if (rows.length === 0) return null;
    // The caller's queued work goes first: a row that fails to compile drops the open batch.
    await this.host.sync();
    const timings: RowTiming[] = [];
    const small = problem.benchSmall;
    if (!full && small && rows.length > 2) {
      const first: { row: R; ms: number }[] = [];
      for (const row of rows) {
        const ms = await this.attempt(
          row,
          timings,
          () => small(row),
          () => this.time(() => small(row), 0, 1),
        );
        if (ms !== null) first.push({ row, ms });
      }
      const best = Math.min(...first.map((f) => f.ms));
      for (const f of first) {
        if (f.ms > CUT_SMALL * best)
          timings.push({ row: f.row.name, ms: Number.NaN, cut: f.ms / best });
      }
      rows = first.filter((f) => f.ms <= CUT_SMALL * best).map((f) => f.row);
    }
    let best = Number.POSITIVE_INFINITY;
    for (const row of rows) {
      const cutoff = full ? 0 : 1.5 * best;
      const ms = await this.attempt(
        row,
        timings,
        () => problem.bench(row),
        () => this.time(() => problem.bench(row), cutoff),
      );
      if (ms === null) continue;
      best = Math.min(best, ms);
      timings.push({ row: row.name, ms });
    }
    const ok = timings.filter((t) => !Number.isNaN(t.ms));
    if (ok.length === 0) return null;
    const chosen = ok.reduce((a, b) => (b.ms < a.ms ? b : a));
    return { key: problem.key, chosen: chosen.row, timings };
  }

  /**
   * Runs `compile` (a first run: its pipelines compile and are checked), then `timed`; a row
   * that fails is dropped for this adapter with one line and noted in `timings` (null).
   */
  private async attempt(
    row: KernelRow,
    timings: RowTiming[],
    compile: () => void,
    timed: () => Promise<number>,
  ): Promise<number | null> {
    try {
      compile();
      await this.host.sync();
      return await timed();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.drop(row.name, message);
      timings.push({ row: row.name, ms: Number.NaN, error: message });
      return null;
    }
  }

  /**
   * Best time of a few runs: at least 3 and about 20 ms of work, at most 10; just one when the
   * first is over `cutoff` ms (0: no cutoff).
   */
  private async time(run: () => void, cutoff: number, most = 10): Promise<number> {
    let best = Number.POSITIVE_INFINITY;
    let spent = 0;
    for (let i = 0; i < most && (i < 3 || spent < 20); i++) {
      const ms = await this.host.timeGpu(run);
      // Timestamps may be quantized to 0 for short kernels: keep a floor, so ratios stay finite.
      best = Math.min(best, Math.max(ms, 1e-3));
      spent += ms;
      if (i === 0 && cutoff > 0 && ms > cutoff) break;
    }
    return best;
  }

  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    const store = this.settings.store;
    if (!store) return;
    let text: string | null;
    try {
      text = store.read(this.cacheName);
    } catch {
      text = null;
    }
    if (text === null) return;
    const where = store.where(this.cacheName);
    let parsed: CacheFile;
    try {
      parsed = JSON.parse(text) as CacheFile;
    } catch {
      this.settings.log(`kernels: ${where} is not valid JSON; ignored (rewritten after tuning)`);
      return;
    }
    const id = parsed?.identity;
    const fields = Object.keys(this.identity) as (keyof Identity)[];
    if (
      parsed?.format !== 'pfgmpp-kernel-choices' ||
      !id ||
      typeof parsed.choices !== 'object' ||
      parsed.choices === null
    ) {
      this.settings.log(
        `kernels: ${where} is not a kernel-choice file; ignored (rewritten after tuning)`,
      );
      return;
    }
    const differs = fields.filter((f) => id[f] !== this.identity[f]);
    if (differs.length) {
      this.settings.log(
        `kernels: ${where} was written for another ${differs.join('/')} (${differs.map((f) => `${String(id[f])} vs ${this.identity[f]}`).join('; ')}); ignored`,
      );
      return;
    }
    for (const [k, v] of Object.entries(parsed.choices)) {
      if (typeof v === 'string' && !this.chosen.has(k)) this.chosen.set(k, v);
    }
  }

  private save(): void {
    const store = this.settings.store;
    if (!store) return;
    const file: CacheFile = {
      format: 'pfgmpp-kernel-choices',
      identity: this.identity,
      choices: Object.fromEntries([...this.chosen].sort(([a], [b]) => a.localeCompare(b))),
    };
    try {
      store.write(this.cacheName, `${JSON.stringify(file, null, 1)}\n`);
    } catch (e) {
      this.settings.log(
        `kernels: could not write ${store.where(this.cacheName)} (${e instanceof Error ? e.message : String(e)}); choices kept for this process only`,
      );
    }
  }
}
