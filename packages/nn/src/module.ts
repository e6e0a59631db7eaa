/**
 * Module: a tree of named parameters, buffers and children whose dotted names and order equal
 * PyTorch's `state_dict()` (own parameters, then own buffers, then children, each in
 * registration order), so official checkpoints load by name.
 *
 * Construction only records shapes and how to initialise them; nothing touches the GPU until
 * `initialize()` or `loadStateDict()` materialises the tensors. That makes the 300M-parameter
 * ImageNet network cheap to describe (parameter counts, state-dict layout) on any machine.
 */
import { keep, type Tensor, tensor } from '@pfgmpp/tensor';
import { NnError } from './errors.ts';
import type { InitSpec } from './init.ts';
import { initTensor } from './init.ts';

export type Shape = readonly number[];

/** One state-dict entry: float32 values in C order. */
export interface TensorData {
  shape: Shape;
  data: Float32Array;
}

export type StateDict = Map<string, TensorData>;

/** A parameter or buffer slot: its shape, how to initialise it, and once materialised, its value. */
export class Slot {
  value: Tensor | null = null;
  constructor(
    readonly shape: Shape,
    readonly init: InitSpec,
    readonly trainable: boolean,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The tensor; throws a clear error before `initialize()`/`loadStateDict()`. */
  get tensor(): Tensor {
    if (!this.value)
      throw new NnError(
        'parameters are not materialised: call initialize() or loadStateDict() first',
      );
    return this.value;
  }

  set(t: Tensor): void {
    this.value?.dispose();
    this.value = keep(t);
    if (this.trainable) t.requireGrad(true);
  }
}

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  misshaped: { name: string; expected: Shape; got: Shape }[];
}

export interface LoadOptions {
  /** Fail on any missing, unexpected or mis-shaped tensor (default true). */
  strict?: boolean;
  /** Prefix stripped from incoming names (e.g. 'net.'). */
  prefix?: string;
  /**
   * Strict mode tolerates missing constant buffers (resample filters, iDDPM's table): the
   * network rebuilds them, and some official snapshots omit them. Default false.
   */
  allowMissingConstants?: boolean;
}

/** Shape-tracked FLOP counter: layers add 2*MAC for the work they dispatch. */
let flopCounter: { flops: number } | null = null;

export function addFlops(n: number): void {
  if (flopCounter) flopCounter.flops += n;
}

/** FLOPs (2 * multiply-accumulates of convolutions, resampling, linear layers and attention)
 * that `fn` dispatches. */
export function countFlops(fn: () => void): number {
  const before = flopCounter;
  flopCounter = { flops: 0 };
  try {
    fn();
    return flopCounter.flops;
  } finally {
    flopCounter = before;
  }
}

const shapeStr = (s: Shape) => `[${s.join(', ')}]`;

export class Module {
  private readonly slots = new Map<string, Slot>();
  private readonly buffers = new Map<string, Slot>();
  private readonly children = new Map<string, Module>();
  training = true;

  protected param(name: string, shape: Shape, init: InitSpec): Slot {
    const s = new Slot(shape, init, true);
    this.slots.set(name, s);
    return s;
  }

  protected buffer(name: string, shape: Shape, init: InitSpec): Slot {
    const s = new Slot(shape, init, false);
    this.buffers.set(name, s);
    return s;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Every slot with its dotted name, in state-dict order. */
  *namedSlots(prefix = ''): Generator<[string, Slot]> {
    for (const [n, s] of this.slots) yield [prefix + n, s];
    for (const [n, s] of this.buffers) yield [prefix + n, s];
    for (const [n, m] of this.children) yield* m.namedSlots(`${prefix}${n}.`);
  }

  *namedParameters(): Generator<[string, Slot]> {
    for (const e of this.namedSlots()) if (e[1].trainable) yield e;
  }

  *modules(): Generator<Module> {
    yield this;
    for (const m of this.children.values()) yield* m.modules();
  }

  /** Trainable scalars (buffers excluded), as PyTorch's sum(p.numel()). */
  parameterCount(): number {
    let n = 0;
    for (const [, s] of this.namedParameters()) n += s.size;
    return n;
  }

  /** Scalars in buffers (resample filters, Fourier frequencies, iDDPM's table). */
  bufferCount(): number {
    let n = 0;
    for (const [, s] of this.namedSlots()) if (!s.trainable) n += s.size;
    return n;
  }

  train(flag = true): this {
    for (const m of this.modules()) m.training = flag;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Materialises every slot with its official initialisation. Slot p (state-dict order) draws
   * from Philox stream p of `seed`, so the weights do not depend on the GPU or the batch.
   */
  initialize(seed = 0): this {
    let p = 0;
    for (const [, s] of this.namedSlots()) s.set(initTensor(s.shape, s.init, seed, p++));
    return this;
  }

  /** Whether every slot holds a tensor. */
  get materialised(): boolean {
    for (const [, s] of this.namedSlots()) if (!s.value) return false;
    return true;
  }

  /** Copies every tensor to the CPU, in state-dict order. */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [n, s] of this.namedSlots())
      out.set(n, { shape: s.shape, data: await s.tensor.read() });
    return out;
  }

  /** Compares names and shapes without loading anything. */
  checkStateDict(sd: ReadonlyMap<string, { shape: Shape }>, prefix = ''): LoadReport {
    const report: LoadReport = { missing: [], unexpected: [], misshaped: [] };
    const own = new Map(this.namedSlots());
    for (const [n, s] of own) {
      const e = sd.get(prefix + n);
      if (!e) report.missing.push(n);
      else if (!sameShape(e.shape, s.shape))
        report.misshaped.push({ name: n, expected: s.shape, got: e.shape });
    }
    for (const k of sd.keys()) {
      if (!k.startsWith(prefix) || !own.has(k.slice(prefix.length))) report.unexpected.push(k);
    }
    return report;
  }

  /**
   * Loads tensors by name. Strict (the default) throws one error listing every missing,
   * unexpected and mis-shaped tensor; non-strict loads what fits and leaves the rest
   * (initialised if they were not materialised yet). Returns what did not fit.
   */
  loadStateDict(sd: ReadonlyMap<string, TensorData>, options: LoadOptions = {}): LoadReport {
    const prefix = options.prefix ?? '';
    const report = this.checkStateDict(sd, prefix);
    const slots = new Map(this.namedSlots());
    const fatal = options.allowMissingConstants
      ? { ...report, missing: report.missing.filter((n) => slots.get(n)?.init.kind !== 'data') }
      : report;
    if ((options.strict ?? true) && !reportIsClean(fatal)) throw new NnError(describeReport(fatal));
    const bad = new Set(report.misshaped.map((m) => m.name));
    let p = 0;
    for (const [n, s] of this.namedSlots()) {
      const e = sd.get(prefix + n);
      if (e && !bad.has(n)) {
        if (e.data.length !== s.size)
          throw new NnError(
            `${prefix + n}: ${e.data.length} values for shape ${shapeStr(s.shape)}`,
          );
        s.set(tensor(e.data, [...s.shape]));
      } else if (!s.value) {
        s.set(initTensor(s.shape, s.init, 0, p));
      }
      p++;
    }
    return report;
  }

  /** Frees every materialised tensor (and its gradient). */
  dispose(): void {
    for (const [, s] of this.namedSlots()) {
      s.value?.dispose();
      s.value = null;
    }
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function reportIsClean(r: LoadReport): boolean {
  return r.missing.length === 0 && r.unexpected.length === 0 && r.misshaped.length === 0;
}

/** A readable summary: every problem by name, a few per kind, with counts. */
export function describeReport(r: LoadReport, limit = 10): string {
  const lines = ['state dict does not match the network:'];
  const list = (what: string, xs: string[]) => {
    if (xs.length === 0) return;
    const more = xs.length > limit ? ` ... and ${xs.length - limit} more` : '';
    lines.push(`  ${xs.length} ${what}: ${xs.slice(0, limit).join(', ')}${more}`);
  };
  list('missing', r.missing);
  list('unexpected', r.unexpected);
  list(
    'mis-shaped',
    r.misshaped.map((m) => `${m.name} (network ${shapeStr(m.expected)}, file ${shapeStr(m.got)})`),
  );
  return lines.join('\n');
}

/** An ordered, name-keyed container (PyTorch's ModuleDict): entries are children in order. */
export class ModuleDict<M extends Module = Module> extends Module {
  readonly entries = new Map<string, M>();

  add<T extends M>(name: string, m: T): T {
    this.entries.set(name, m);
    return this.child(name, m);
  }
}
