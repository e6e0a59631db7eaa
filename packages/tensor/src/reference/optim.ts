/** CPU references for the optimiser kernels (float64). */

export interface AdamRefOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count used for the bias corrections. */
  step: number;
  sanitize: boolean;
}

const nanToNum = (x: number) =>
  Number.isNaN(x) ? 0 : x === Infinity ? 1e5 : x === -Infinity ? -1e5 : x;

/** One Adam step as torch.optim.Adam computes it; returns new param, m, v. */
export function adamRef(
  param: Float64Array,
  grad: Float64Array,
  m: Float64Array,
  v: Float64Array,
  o: AdamRefOptions,
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  const out = { param: new Float64Array(param), m: new Float64Array(m), v: new Float64Array(v) };
  for (let i = 0; i < param.length; i++) {
    const g = o.sanitize ? nanToNum(grad[i] as number) : (grad[i] as number);
    const mi = o.beta1 * (m[i] as number) + (1 - o.beta1) * g;
    const vi = o.beta2 * (v[i] as number) + (1 - o.beta2) * g * g;
    out.m[i] = mi;
    out.v[i] = vi;
    out.param[i] =
      (param[i] as number) - (o.lr / bc1) * (mi / (Math.sqrt(vi) / Math.sqrt(bc2) + o.eps));
  }
  return out;
}

/** ema <- param + beta * (ema - param). */
export function emaRef(ema: Float64Array, param: Float64Array, beta: number): Float64Array {
  return ema.map((e, i) => (param[i] as number) + beta * (e - (param[i] as number)));
}
