/**
 * Deterministic freeing of GPU memory: `scope(fn)` disposes every tensor created inside `fn`
 * except those it returns (found in returned arrays and plain objects too), which move to the
 * enclosing scope. Garbage collection never frees GPU memory here.
 */
import type { Tensor } from './tensor.ts';

const stack: Set<Tensor>[] = [];

/** Called by the Tensor constructor. */
export function trackTensor(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes `t` from every open scope so that no scope disposes it. Returns `t`. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

export function scope<T>(fn: () => T): T {
  const own = new Set<Tensor>();
  stack.push(own);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error('scope(fn) got an async function: use scopeAsync');
    }
  } catch (e) {
    closeScope(own, undefined);
    throw e;
  }
  closeScope(own, result);
  return result;
}

/**
 * scope() for async functions. Scopes nest by call order, so do not run two scopeAsync calls
 * concurrently (interleaved awaits would attribute tensors to the wrong scope).
 */
export async function scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
  const own = new Set<Tensor>();
  stack.push(own);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    closeScope(own, undefined);
    throw e;
  }
  closeScope(own, result);
  return result;
}

function closeScope(own: Set<Tensor>, result: unknown): void {
  const top = stack.pop();
  if (top !== own) throw new Error('scopes closed out of order (concurrent scopeAsync?)');
  const kept = new Set<Tensor>();
  collectTensors(result, kept, 0);
  const parent = stack[stack.length - 1];
  for (const t of own) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
}

function collectTensors(value: unknown, out: Set<Tensor>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
}

function isTensor(v: object): v is Tensor {
  return (v as { isTensor?: boolean }).isTensor === true;
}
