/**
 * Gradient checks.
 * - `numericGrad`: central finite differences in float64 of a CPU reference.
 * - `gpuGrads`: GPU backward of L = sum(f(x) * G) for a fixed cotangent G.
 */
import { backward, mul, noGrad, scope, sum, type Tensor, tensor } from '@pfgmpp/tensor/node';
import type { NDArray } from '@pfgmpp/tensor/reference';

/** d/dx_i of sum(f(x) * G) for every input, by central differences with step h. */
export function numericGrad(
  f: (inputs: NDArray[]) => NDArray,
  inputs: readonly NDArray[],
  G: Float64Array,
  h = 1e-6,
): Float64Array[] {
  const loss = (xs: NDArray[]) => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += (y.data[i] as number) * (G[i] as number);
    return s;
  };
  return inputs.map((x, k) => {
    const g = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const plus = inputs.map((t) => ({ shape: t.shape, data: Float64Array.from(t.data) }));
      const minus = inputs.map((t) => ({ shape: t.shape, data: Float64Array.from(t.data) }));
      const v = x.data[i] as number;
      (plus[k] as NDArray).data[i] = v + h;
      (minus[k] as NDArray).data[i] = v - h;
      g[i] = (loss(plus) - loss(minus)) / (2 * h);
    }
    return g;
  });
}

/** Gradients of sum(f(x) * G) on the GPU, for every input. */
export async function gpuGrads(
  f: (inputs: Tensor[]) => Tensor,
  inputs: readonly NDArray[],
  G: Float64Array,
): Promise<Float32Array[]> {
  const leaves = inputs.map((x) => tensor(Float32Array.from(x.data), x.shape).requireGrad());
  scope(() => {
    const y = f(leaves);
    const g = noGrad(() => tensor(Float32Array.from(G), y.shape));
    backward(sum(mul(y, g)));
  });
  const out: Float32Array[] = [];
  for (const t of leaves) {
    out.push(t.grad ? await t.grad.read() : new Float32Array(t.size));
    t.dispose();
  }
  return out;
}
