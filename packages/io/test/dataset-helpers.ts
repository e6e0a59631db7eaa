/** Helpers for the dataset tests: fixture paths, temp folders, tiny tar and PNG builders. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zlibSync } from 'fflate';
import { afterEach } from 'vitest';
import { crc32, type Image, type NdArray, readNpz } from '../src/index.ts';

/** Copies of the official dataset_tool fixtures (see test/fixtures/dataset_tool/README.md). */
export const DT = fileURLToPath(new URL('../../../test/fixtures/dataset_tool/', import.meta.url));

export function dtBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(DT + name));
}

export function dtNpz(name: string): Map<string, NdArray> {
  return readNpz(dtBytes(name));
}

export function dtJson(name: string): unknown {
  return JSON.parse(readFileSync(DT + name, 'utf8'));
}

/** H x W (x C) uint8 array -> Image. */
export function asImage(a: NdArray): Image {
  return {
    height: a.shape[0] as number,
    width: a.shape[1] as number,
    channels: a.shape[2] ?? 1,
    data: a.data as Uint8Array,
  };
}

const temps: string[] = [];

/** A fresh temporary folder, removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pfgmpp-io-'));
  temps.push(d);
  return d;
}

afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A ustar archive of regular files (what `tar` writes, enough for the reader's tests). */
export function makeTar(files: { name: string; data: Uint8Array; type?: string }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of files) {
    const h = new Uint8Array(512);
    h.set(enc.encode(f.name).subarray(0, 100), 0);
    h.set(enc.encode('0000644\0'), 100);
    h.set(enc.encode(`${f.data.length.toString(8).padStart(11, '0')}\0`), 124);
    h.set(enc.encode('00000000000\0'), 136);
    h[156] = (f.type ?? '0').charCodeAt(0);
    h.set(enc.encode('ustar\x0000'), 257);
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    blocks.push(h);
    const body = new Uint8Array(Math.ceil(f.data.length / 512) * 512);
    body.set(f.data);
    blocks.push(body);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A PNG from raw rows (filter bytes included), for depths and headers our encoder never writes. */
export function rawPng(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  rows: Uint8Array,
  extra: { type: string; data: Uint8Array }[] = [],
): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    ...extra.map((e) => chunk(e.type, e.data)),
    chunk('IDAT', zlibSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Deterministic pseudo-random bytes (test inputs only). */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
