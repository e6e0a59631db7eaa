/**
 * Uniform parameters by field name. scripts/gen-shaders.mjs reads each shader's `struct Params`
 * and emits its layout (SHADER_PARAMS) and a TypeScript type (ShaderParams); ops pass an object
 * keyed by field name, and `writeParams` places every value at its field's offset. A missing,
 * unknown or ill-typed field throws before anything is dispatched, so two fields swapped by
 * hand can no longer turn into wrong numbers without an error.
 */
import { GpuError } from './errors.ts';
import { type ParamField, SHADER_PARAMS, type ShaderParams } from './generated/shaders.ts';

export type { ParamField, ShaderParams };

/** The uniform values of the kernels of shader file F (an empty object type for files without). */
export type ParamsOf<F extends string> = F extends keyof ShaderParams
  ? ShaderParams[F]
  : Record<string, never>;

/** Values that fit the field types: what a caller may pass before the type narrows it. */
export type ParamValues = Readonly<Record<string, number | readonly number[]>>;

interface Layout {
  fields: readonly ParamField[];
  names: ReadonlySet<string>;
  words: number;
}

const layouts = new Map<string, Layout | null>();

/** The layout of `struct Params` in shaders/FILE, or null when the file declares none. */
export function paramsLayout(file: string): Layout | null {
  let layout = layouts.get(file);
  if (layout === undefined) {
    const fields = SHADER_PARAMS[file];
    layout = fields
      ? {
          fields,
          names: new Set(fields.filter((f) => !f.name.startsWith('_')).map((f) => f.name)),
          words: fields.reduce((m, f) => Math.max(m, f.offset + f.words), 0),
        }
      : null;
    layouts.set(file, layout);
  }
  return layout;
}

function checkScalar(label: string, field: ParamField, v: unknown, index?: number): number {
  const at = index === undefined ? field.name : `${field.name}[${index}]`;
  if (typeof v !== 'number') {
    throw new GpuError(`${label}: uniform field ${at} must be a number, got ${typeof v}`);
  }
  if (field.type === 'u32' && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
    throw new GpuError(`${label}: uniform field ${at} is u32, got ${v}`);
  }
  if (field.type === 'i32' && !(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31)) {
    throw new GpuError(`${label}: uniform field ${at} is i32, got ${v}`);
  }
  return v;
}

/**
 * Writes `values` into `u32`/`f32` (two views of one buffer) at word `base`, field by field.
 * Throws a GpuError naming the kernel (`label`) for a missing, unknown or ill-typed field.
 * Returns the block's size in bytes.
 */
export function writeParams(
  label: string,
  file: string,
  values: ParamValues,
  u32: Uint32Array,
  f32: Float32Array,
  base: number,
): number {
  const layout = paramsLayout(file);
  if (!layout) {
    throw new GpuError(
      `${label}: shaders/${file} declares no struct Params, but values were given`,
    );
  }
  for (const key of Object.keys(values)) {
    if (!layout.names.has(key)) {
      throw new GpuError(
        `${label}: unknown uniform field "${key}" (struct Params in shaders/${file} has ${[...layout.names].join(', ')})`,
      );
    }
  }
  u32.fill(0, base, base + layout.words);
  for (const field of layout.fields) {
    if (field.name.startsWith('_')) continue;
    const v = values[field.name];
    if (v === undefined) {
      throw new GpuError(`${label}: uniform field "${field.name}" of shaders/${file} is missing`);
    }
    const at = base + field.offset;
    if (field.words === 1) {
      const n = checkScalar(label, field, v);
      if (field.type === 'f32') f32[at] = n;
      else u32[at] = n >>> 0;
      continue;
    }
    if (typeof v === 'number' || v.length > field.words) {
      throw new GpuError(
        `${label}: uniform field ${field.name} holds at most ${field.words} values, got ${typeof v === 'number' ? 'a number' : v.length}`,
      );
    }
    v.forEach((e, i) => {
      const n = checkScalar(label, field, e, i);
      if (field.type === 'f32') f32[at + i] = n;
      else u32[at + i] = n >>> 0;
    });
  }
  return layout.words * 4;
}
