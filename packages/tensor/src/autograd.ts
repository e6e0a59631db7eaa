/**
 * Reverse-mode autograd on a tape.
 *
 * Ops record a node when gradients are enabled and an input requires them. The node keeps its
 * own handles on the tensors its backward needs (so disposing them in user code is safe) and
 * a backward function written with other ops. `backward(loss)` walks the tape in reverse,
 * accumulates gradients, stores them in the leaves' `.grad`, then frees the whole tape.
 */
import { keep, scope } from './scope.ts';
import type { Tensor } from './tensor.ts';

export type BackwardFn = (gradOut: Tensor) => readonly (Tensor | null)[];

interface TapeNode {
  readonly out: number;
  readonly inputs: readonly Tensor[];
  readonly backward: BackwardFn;
  readonly saved: readonly Tensor[];
}

let tape: TapeNode[] = [];
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording (sampling, EMA updates, optimiser steps). */
export function noGrad<T>(fn: () => T): T {
  const before = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = before;
  }
}

export function needsGrad(inputs: readonly Tensor[]): boolean {
  return enabled && inputs.some((t) => t.requiresGrad);
}

/** A handle on `t` owned by the tape, untouched by scopes. */
export function save(t: Tensor): Tensor {
  return keep(t.view(t.shape, false));
}

/**
 * Records that `out` was computed from `inputs`; `saved` are handles from `save()` that the
 * tape releases after backward. Call only when needsGrad(inputs).
 */
export function record(
  out: Tensor,
  inputs: readonly Tensor[],
  backward: BackwardFn,
  saved: readonly Tensor[] = [],
): void {
  out.requiresGrad = true;
  out.hasGradFn = true;
  tape.push({ out: out.id, inputs, backward, saved });
}

/** Number of recorded nodes (tests check that backward leaves none behind). */
export function tapeLength(): number {
  return tape.length;
}

/** Drops the tape without computing gradients (e.g. after a forward pass in grad mode). */
export function clearTape(): void {
  for (const node of tape) for (const t of node.saved) t.dispose();
  tape = [];
}

/**
 * Accumulates d(loss)/d(leaf) into every leaf's `.grad`. `gradOutput` defaults to ones (a
 * scalar loss). The tape is consumed: a second backward needs a new forward pass.
 */
export function runBackward(
  loss: Tensor,
  gradOutput: Tensor | undefined,
  ones: (t: Tensor) => Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
): void {
  if (!loss.requiresGrad) {
    throw new Error(
      'backward(): the tensor does not require gradients (no input had requireGrad())',
    );
  }
  const nodes = tape;
  tape = [];
  try {
    noGrad(() =>
      scope(() => {
        const grads = new Map<number, Tensor>();
        grads.set(loss.id, gradOutput ?? ones(loss));
        for (let i = nodes.length - 1; i >= 0; i--) {
          const node = nodes[i] as TapeNode;
          const g = grads.get(node.out);
          if (!g) continue;
          grads.delete(node.out);
          const inputGrads = node.backward(g);
          node.inputs.forEach((input, j) => {
            const d = inputGrads[j];
            if (!d || !input.requiresGrad) return;
            if (d.size !== input.size) {
              throw new Error(
                `internal: gradient of shape [${d.shape}] for input [${input.shape}]`,
              );
            }
            // Each consumer gets its own handle: one gradient tensor may feed several inputs.
            const own = d.view(input.shape);
            if (input.hasGradFn) {
              const prev = grads.get(input.id);
              grads.set(input.id, prev ? add(prev, own) : own);
            } else {
              const prev = input.grad;
              input.grad = keep(prev ? add(prev, own) : own);
              if (prev) prev.dispose();
            }
          });
        }
      }),
    );
  } finally {
    for (const node of nodes) for (const t of node.saved) t.dispose();
  }
}
