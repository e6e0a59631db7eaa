/**
 * Fused GroupNorm with optional SiLU (torch.nn.functional.group_norm, biased variance, eps
 * inside the square root, then silu), forward and backward, in few passes suited to CPU
 * rasterizers (no barriers, few lane-varying loads):
 * - forward: groupnorm_stats.wgsl partial + merge (per-(image, group) mean and rstd from
 *   chunked two-pass sums merged pairwise), then groupnorm.wgsl (normalise, affine, SiLU in
 *   one vec4 pass);
 * - backward: groupnorm_bwd.wgsl sums (per-plane sums of dz and dz*xhat), groupnorm_coef.wgsl
 *   (dw, db and the per-group coefficients in one small pass), then groupnorm_bwd.wgsl main
 *   (dx).
 */
import { needsGrad, record, save } from '../autograd.ts';
import { TensorError } from '../errors.ts';
import { K } from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { gpuOf, shapeStr, workgroupsFor } from './util.ts';

export interface GroupNormOptions {
  /** Channel groups; C must be a multiple. */
  groups: number;
  /** Added to the variance inside the square root (default 1e-5, as PyTorch). */
  eps?: number;
  /** Apply SiLU after the affine transform (default false). */
  silu?: boolean;
}

/** Invocations the statistics pass aims for (both lavapipe cores and a GPU kept busy). */
const TARGET_THREADS = 16384;
/** Shortest chunk of a group's values one invocation sums (elements). */
const MIN_CHUNK = 256;
/** Elements per invocation in the elementwise passes (RUN vec4 in the shaders). */
const RUN_ELEMS = 16;

interface Geometry {
  N: number;
  C: number;
  G: number;
  cg: number;
  hw: number;
  /** Values per group row: cg * hw. */
  k: number;
}

/** Per-row (mean, rstd) as [N*G, 2]. */
function groupStats(x: Tensor, g: Geometry, eps: number): Tensor {
  const gpu = x.gpu;
  const rows = g.N * g.G;
  const vec = g.k % 4 === 0;
  const chunks = Math.max(
    1,
    Math.min(Math.ceil(g.k / MIN_CHUNK), Math.ceil(TARGET_THREADS / rows)),
  );
  let chunkLen = Math.ceil(g.k / chunks);
  if (vec) chunkLen = Math.ceil(chunkLen / 4) * 4;
  const realChunks = Math.ceil(g.k / chunkLen);
  const part = Tensor.empty(gpu, [rows, realChunks, 2]);
  const d = vec ? 4 : 1;
  gpu.dispatch(
    vec ? K.gnPartial4 : K.gnPartial,
    {},
    [x.buffer, part.buffer],
    { rows, k: g.k / d, chunk_len: chunkLen / d, chunks: realChunks, eps },
    workgroupsFor(rows * realChunks),
  );
  const stats = Tensor.empty(gpu, [rows, 2]);
  gpu.dispatch(
    K.gnMerge,
    {},
    [part.buffer, stats.buffer],
    { rows, k: g.k, chunk_len: chunkLen, chunks: realChunks, eps },
    workgroupsFor(rows),
  );
  part.dispose();
  return stats;
}

/**
 * Uniforms and workgroups of the run-per-invocation passes (groupnorm.wgsl; the backward's
 * groupnorm_bwd.wgsl also takes the group rows); vec4 when H*W allows.
 */
function runPlan(g: Geometry) {
  const vec = g.hw % 4 === 0;
  const hw = vec ? g.hw / 4 : g.hw;
  const runs = Math.ceil(g.hw / RUN_ELEMS);
  const planes = g.N * g.C;
  const params = { planes, hw, runs, cg: g.cg, c: g.C };
  return {
    vec,
    params,
    bwdParams: { ...params, rows: g.N * g.G },
    workgroups: workgroupsFor(planes * runs),
  };
}

/**
 * GroupNorm of x [N, C, ...spatial] with per-channel weight and bias [C], then SiLU when
 * `silu`: y = act((x - mean_g) / sqrt(var_g + eps) * w[c] + b[c]).
 */
export function groupNorm(x: Tensor, weight: Tensor, bias: Tensor, opts: GroupNormOptions): Tensor {
  gpuOf(x, weight, bias);
  if (x.rank < 2)
    throw new TensorError(`groupNorm: x must be [N, C, ...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape as unknown as [number, number];
  const G = opts.groups;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0) {
    throw new TensorError(`groupNorm: groups must divide the ${C} channels, got ${G}`);
  }
  for (const [t, name] of [
    [weight, 'weight'],
    [bias, 'bias'],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) {
      throw new TensorError(`groupNorm: ${name} must be [${C}], got ${shapeStr(t.shape)}`);
    }
  }
  const eps = opts.eps ?? 1e-5;
  if (!(eps >= 0)) throw new TensorError(`groupNorm: eps must be >= 0, got ${eps}`);
  const hw = x.size / Math.max(1, N * C);
  if (x.size === 0) throw new TensorError(`groupNorm: empty input ${shapeStr(x.shape)}`);
  const geo: Geometry = { N, C, G, cg: C / G, hw, k: (C / G) * hw };
  const silu = opts.silu ? 1 : 0;
  const gpu = x.gpu;
  const stats = groupStats(x, geo, eps);
  const y = Tensor.empty(gpu, x.shape);
  const plan = runPlan(geo);
  gpu.dispatch(
    plan.vec ? K.gnApply4 : K.gnApply,
    { SILU: silu },
    [x.buffer, stats.buffer, weight.buffer, bias.buffer, y.buffer],
    plan.params,
    plan.workgroups,
  );
  if (needsGrad([x, weight, bias])) {
    const saved = [save(x), save(weight), save(bias), save(stats)] as const;
    const [xs, ws, bs, ss] = saved;
    record(
      y,
      [x, weight, bias],
      (g) => {
        const s1 = Tensor.empty(gpu, [N * C]);
        const s2 = Tensor.empty(gpu, [N * C]);
        const bufs = [xs.buffer, g.buffer, ss.buffer, ws.buffer, bs.buffer];
        gpu.dispatch(
          plan.vec ? K.gnSums4 : K.gnSums,
          { SILU: silu },
          [...bufs, s1.buffer, s2.buffer],
          plan.bwdParams,
          workgroupsFor(N * C),
        );
        // db, dw, and per group row A/k = sum_{c in g} w[c] s1 / k, B/k likewise with s2.
        const ab = Tensor.empty(gpu, [2 * N * G]);
        const db = Tensor.empty(gpu, [C]);
        const dw = Tensor.empty(gpu, [C]);
        gpu.dispatch(
          K.gnCoef,
          {},
          [s1.buffer, s2.buffer, ws.buffer, ab.buffer, db.buffer, dw.buffer],
          { n: N, c: C, g: G, cg: geo.cg, inv_k: 1 / geo.k },
          workgroupsFor(N * G + C),
        );
        s1.dispose();
        s2.dispose();
        const dx = Tensor.empty(gpu, x.shape);
        gpu.dispatch(
          plan.vec ? K.gnDx4 : K.gnDx,
          { SILU: silu },
          [...bufs, ab.buffer, dx.buffer],
          plan.bwdParams,
          plan.workgroups,
        );
        ab.dispose();
        return [dx, dw, db];
      },
      saved,
    );
  }
  stats.dispose();
  return y;
}
