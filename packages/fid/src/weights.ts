/**
 * Inception weights: read by name from `pt_inception-2015-12-05-6726825d.pth` (legacy or zip
 * torch file), a pytorch-fid state dict or a safetensors file; checked against the architecture;
 * BatchNorm folded into each conv (inference uses the running statistics only). Also the
 * synthetic weights of the reference fixtures, for tests and benchmarks without the real file.
 */
import { readCheckpoint } from '@pfgmpp/io';
import {
  BN_EPS,
  BN_PARTS,
  CLASSES,
  canonicalName,
  FEATURES,
  pytorchFidName,
  UNITS,
} from './architecture.ts';

/** What the FID detector needs and where people get it (quoted in every weight error). */
export const WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth';
export const WEIGHTS_URL = `https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/${WEIGHTS_FILE}`;
export const WEIGHTS_HINT = `the FID Inception needs ${WEIGHTS_FILE} (95,628,359 bytes; pytorch-fid's release: ${WEIGHTS_URL})`;

/** A weight error: wrong, incomplete or unreadable file. The message names file and fix. */
export class WeightsError extends Error {
  override name = 'WeightsError';
}

export interface WeightTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** Tensors by name (either naming scheme); extra names are ignored. */
export type WeightMap = ReadonlyMap<string, WeightTensor>;

/** A conv unit with BatchNorm folded in: y = relu(conv(x, w) + b). */
export interface FoldedUnit {
  w: Float32Array;
  b: Float32Array;
}

export interface InceptionWeights {
  /** Unit name -> folded conv, for all 94 units. */
  units: Map<string, FoldedUnit>;
  /** fc.weight [1008, 2048] transposed to [2048, 1008] (for IS); absent in pytorch-fid dicts. */
  fcT?: Float32Array;
  fcBias?: Float32Array;
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Checks names and shapes, folds BatchNorm in float64, transposes fc. `source` names the file
 * in errors. Accepts the weight file's names and pytorch-fid's `blocks.B.I` names.
 */
export function prepareWeights(tensors: WeightMap, source: string): InceptionWeights {
  const byName = new Map<string, WeightTensor>();
  for (const [name, t] of tensors) byName.set(canonicalName(name), t);
  const missing: string[] = [];
  const get = (name: string, shape: readonly number[]): WeightTensor | undefined => {
    const t = byName.get(name);
    if (!t) {
      missing.push(name);
      return undefined;
    }
    if (!sameShape(t.shape, shape) || t.data.length !== shape.reduce((p, d) => p * d, 1)) {
      throw new WeightsError(
        `${source}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]; ${WEIGHTS_HINT}`,
      );
    }
    return t;
  };
  const units = new Map<string, FoldedUnit>();
  for (const u of UNITS) {
    const out = u.shape[0];
    const conv = get(`${u.name}.conv.weight`, u.shape);
    const bn = BN_PARTS.map((p) => get(`${u.name}.bn.${p}`, [out]));
    const [gamma, beta, mean, variance] = bn;
    if (!conv || !gamma || !beta || !mean || !variance) continue;
    const per = conv.data.length / out;
    const w = new Float32Array(conv.data.length);
    const b = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const scale = (gamma.data[o] as number) / Math.sqrt((variance.data[o] as number) + BN_EPS);
      b[o] = (beta.data[o] as number) - (mean.data[o] as number) * scale;
      for (let j = o * per; j < (o + 1) * per; j++) w[j] = (conv.data[j] as number) * scale;
    }
    units.set(u.name, { w, b });
  }
  if (missing.length > 0) {
    const first = missing.slice(0, 4).join(', ');
    throw new WeightsError(
      `${source}: not the FID Inception weights: ${missing.length} tensors missing (${first}${missing.length > 4 ? ', ...' : ''}); ${WEIGHTS_HINT}`,
    );
  }
  const result: InceptionWeights = { units };
  const fcW = byName.get('fc.weight');
  if (fcW) {
    const fw = get('fc.weight', [CLASSES, FEATURES]) as WeightTensor;
    const fb = get('fc.bias', [CLASSES]);
    if (!fb) throw new WeightsError(`${source}: has fc.weight but no fc.bias; ${WEIGHTS_HINT}`);
    const t = new Float32Array(FEATURES * CLASSES);
    for (let c = 0; c < CLASSES; c++) {
      for (let f = 0; f < FEATURES; f++) t[f * CLASSES + c] = fw.data[c * FEATURES + f] as number;
    }
    result.fcT = t;
    result.fcBias = Float32Array.from(fb.data);
  }
  return result;
}

/**
 * Reads a weight file's bytes (torch legacy/zip, or safetensors) and prepares it. Any failure
 * becomes a WeightsError naming the file, the problem and where the right file comes from.
 */
export function readInceptionWeights(bytes: Uint8Array, fileName: string): InceptionWeights {
  let tensors: WeightMap;
  try {
    tensors = readCheckpoint(bytes, { fileName, optimizer: false }).tensors;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new WeightsError(`${why}; ${WEIGHTS_HINT}`, { cause: e });
  }
  return prepareWeights(tensors, fileName);
}

/**
 * The synthetic weight rule of the reference fixtures (pytorch-fid state-dict order, k counting
 * all 6 tensors of each unit including num_batches_tracked, i the flat index; float64 then
 * float32). Names are pytorch-fid's (`blocks.B.I...`). With `fc`, an fc layer follows as
 * k = 564, 565 with the conv rule (our extension: pytorch-fid's module has no fc).
 */
export function syntheticWeights(options: { fc?: boolean } = {}): Map<string, WeightTensor> {
  const out = new Map<string, WeightTensor>();
  const fill = (n: number, f: (i: number) => number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = f(i);
    return a;
  };
  let k = 0;
  for (const u of UNITS) {
    const [o, cin, kh, kw] = u.shape;
    const p = pytorchFidName(u.name);
    const fan = Math.sqrt(cin * kh * kw);
    const kc = k;
    out.set(`${p}.conv.weight`, {
      shape: u.shape,
      data: fill(o * cin * kh * kw, (i) => Math.sin(0.7 * i + 1.3 * kc) / fan),
    });
    const rules = [
      (i: number, kk: number) => 1 + 0.5 * Math.sin(0.7 * i + 1.3 * kk),
      (i: number, kk: number) => 0.02 * Math.sin(0.7 * i + 1.3 * kk),
      (i: number, kk: number) => 0.01 * Math.cos(0.5 * i + kk),
      (i: number, kk: number) => 1 + 0.5 * Math.abs(Math.sin(0.3 * i + kk)),
    ];
    for (const [j, part] of BN_PARTS.entries()) {
      const kk = k + 1 + j;
      const rule = rules[j] as (i: number, kk: number) => number;
      out.set(`${p}.bn.${part}`, { shape: [o], data: fill(o, (i) => rule(i, kk)) });
    }
    k += 6;
  }
  if (options.fc) {
    const kw = k;
    const kb = k + 1;
    const fan = Math.sqrt(FEATURES);
    out.set('fc.weight', {
      shape: [CLASSES, FEATURES],
      data: fill(CLASSES * FEATURES, (i) => Math.sin(0.7 * i + 1.3 * kw) / fan),
    });
    out.set('fc.bias', {
      shape: [CLASSES],
      data: fill(CLASSES, (i) => 0.02 * Math.sin(0.7 * i + 1.3 * kb)),
    });
  }
  return out;
}
