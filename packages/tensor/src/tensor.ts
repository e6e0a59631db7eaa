/**
 * Tensor: an f32 array on the GPU with a shape, stored contiguously in row-major order.
 *
 * Storage is reference counted: `reshape` returns a view sharing it, and the buffer goes back
 * to the pool when the last tensor using it is disposed. Tensors are registered with the open
 * `scope()`, which disposes them when it closes unless they are returned or kept.
 */
import type { Gpu } from './gpu.ts';
import { TensorError } from './errors.ts';
import { trackTensor } from './scope.ts';

export type Shape = readonly number[];

class Storage {
  private refs = 1;
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) this.gpu.pool.release(this.buffer);
  }
}

let nextId = 1;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new TensorError(`invalid shape [${shape.join(', ')}]: sizes must be integers >= 0`);
    }
  }
}

export class Tensor {
  readonly isTensor = true;
  readonly id = nextId++;
  readonly shape: Shape;
  readonly size: number;
  /** Gradients flow to this tensor; set on leaves with `requireGrad()`, propagated by ops. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. Disposed with the tensor. */
  grad: Tensor | null = null;
  /** True when a recorded op produced this tensor (it is not a leaf of the graph). */
  hasGradFn = false;
  private storage: Storage | null;

  private constructor(storage: Storage, shape: Shape, track: boolean) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    if (track) trackTensor(this);
  }

  /** A new tensor with uninitialised contents (a pooled buffer). */
  static empty(gpu: Gpu, shape: Shape): Tensor {
    checkShape(shape);
    const bytes = Math.max(4, sizeOf(shape) * 4);
    return new Tensor(new Storage(gpu, gpu.pool.acquire(bytes)), shape, true);
  }

  get gpu(): Gpu {
    return this.live().gpu;
  }

  get buffer(): GPUBuffer {
    return this.live().buffer;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /**
   * Another tensor on the same storage with `shape` (same size). No copy and no autograd
   * record: ops use it internally; users want `reshape`, which records its gradient.
   */
  view(shape: Shape = this.shape, track = true): Tensor {
    const storage = this.live();
    if (sizeOf(shape) !== this.size) {
      throw new TensorError(
        `cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]: sizes differ`,
      );
    }
    return new Tensor(storage.retain(), shape, track);
  }

  /** Marks a leaf as needing gradients. */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** The same values, outside the autograd graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Frees the storage (when no view shares it) and the gradient. Safe to call twice. */
  dispose(): void {
    this.storage?.release();
    this.storage = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /** Copies the values to the CPU: submits pending work and waits for it. */
  async read(): Promise<Float32Array> {
    const storage = this.live();
    if (this.size === 0) return new Float32Array(0);
    const bytes = await storage.gpu.read(storage.buffer, 0, this.size * 4);
    return new Float32Array(bytes);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new TensorError(
        `item() needs one element, tensor has shape [${this.shape.join(', ')}]`,
      );
    }
    const v = (await this.read())[0];
    return v as number;
  }

  toString(): string {
    return `Tensor#${this.id}[${this.shape.join(', ')}]${this.disposed ? ' (disposed)' : ''}`;
  }

  private live(): Storage {
    if (!this.storage) throw new TensorError(`${this.toString()} is used after dispose()`);
    return this.storage;
  }
}
