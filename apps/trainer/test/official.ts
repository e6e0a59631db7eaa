/**
 * The official PFGM++ training states of test/fixtures/official (written by the official
 * training loop's torch.save) and, for the same networks, the reference weights, inputs and
 * official outputs of test/fixtures/nn.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NdArray, npzJson, readCheckpoint, readNpz, type TensorMap } from '@pfgmpp/io';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures');

export interface OfficialEntry {
  file: string;
  /** Parameters only, no buffers. */
  param_count: number;
  D: number | null;
  pfgmpp: boolean | null;
  precond: string;
}

export const OFFICIAL_INDEX = JSON.parse(
  readFileSync(join(FIXTURES, 'official/index.json'), 'utf8'),
) as Record<string, OfficialEntry>;
export const OFFICIAL_NAMES = Object.keys(OFFICIAL_INDEX);

export function officialFile(name: string): string {
  const e = OFFICIAL_INDEX[name];
  if (!e) throw new Error(`no official fixture ${name}`);
  return join(FIXTURES, 'official', e.file);
}

/** The `config` of test/fixtures/nn/NAME.npz (what the official network was built with). */
export interface NetConfig {
  precond_class: string;
  constructor_kwargs: Record<string, unknown> & {
    model_type: string;
    model_channels: number;
    channel_mult: number[];
    num_blocks: number;
    attn_resolutions: number[];
    label_dim: number;
    augment_dim?: number;
  };
  attributes: Record<string, unknown>;
  buffer_count: number;
}

export interface Reference {
  config: NetConfig;
  /** x, sigma, class_labels, augment_labels, D_x, ... of the official forward pass. */
  arrays: Map<string, NdArray>;
  /** The official state dict, from test/fixtures/nn/NAME.pt. */
  weights: TensorMap;
}

export function reference(name: string): Reference {
  const arrays = readNpz(new Uint8Array(readFileSync(join(FIXTURES, 'nn', `${name}.npz`))));
  const pt = new Uint8Array(readFileSync(join(FIXTURES, 'nn', `${name}.pt`)));
  return {
    config: npzJson(arrays, 'config') as NetConfig,
    arrays,
    weights: readCheckpoint(pt, { fileName: `${name}.pt` }).tensors,
  };
}

/** Names, shapes and values identical, in the same order. */
export function sameWeights(a: TensorMap | undefined, b: TensorMap): boolean {
  if (!a || a.size !== b.size) return false;
  const bs = [...b];
  return [...a].every(([k, t], i) => {
    const [kb, tb] = bs[i] as (typeof bs)[number];
    return (
      k === kb &&
      t.shape.join() === tb.shape.join() &&
      t.data.every((v, j) => Object.is(v, tb.data[j]))
    );
  });
}
