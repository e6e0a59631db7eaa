/**
 * Writes state dicts as torch.save files, in both layouts PyTorch uses: zip (torch >= 1.6) and
 * legacy (magic number, protocol 1001, sys_info, the object pickle, the sorted storage keys, then
 * each storage as an int64 element count and raw little-endian bytes). Protocol-2 pickles with the
 * globals torch.save emits: collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
 * torch.FloatStorage / torch.LongStorage. Enough to test the loader without PyTorch.
 */
import { writeZip } from '@pfgmpp/io';

export interface TorchEntry {
  shape: readonly number[];
  data: Float32Array | BigInt64Array;
}

class Pickle {
  private readonly parts: Uint8Array[] = [];
  raw(text: string): this {
    this.parts.push(Uint8Array.from(text, (c) => c.charCodeAt(0)));
    return this;
  }
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, utf8.length, true);
    return this.raw('X').bytes(len).bytes(utf8);
  }
  int(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return this.raw('J').bytes(b);
  }
  tuple(xs: readonly number[]): this {
    this.raw('(');
    for (const x of xs) this.int(x);
    return this.raw('t');
  }
  done(): Uint8Array {
    const n = this.parts.reduce((p, b) => p + b.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const b of this.parts) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  }
}

const strides = (shape: readonly number[]) => {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--)
    s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
};

/** The object pickle: OrderedDict name -> tensor, storage keys '0', '1', ... in order. */
function statePickle(entries: [string, TorchEntry][], legacy: boolean): Uint8Array {
  const p = new Pickle().raw('\x80\x02ccollections\nOrderedDict\n)R(');
  for (const [i, [name, t]] of entries.entries()) {
    const storage = t.data instanceof BigInt64Array ? 'LongStorage' : 'FloatStorage';
    p.str(name).raw('ctorch._utils\n_rebuild_tensor_v2\n((').str('storage');
    p.raw(`ctorch\n${storage}\n`).str(String(i)).str('cpu').int(t.data.length);
    p.raw(legacy ? 'Nt' : 't')
      .raw('Q')
      .int(0)
      .tuple(t.shape)
      .tuple(strides(t.shape));
    p.raw('\x89ccollections\nOrderedDict\n)RtR');
  }
  return p.raw('u.').done();
}

const bytesOf = (t: TorchEntry) =>
  new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

export function torchZip(state: Map<string, TorchEntry>, folder = 'archive'): Uint8Array {
  const entries = [...state];
  return writeZip([
    { name: `${folder}/data.pkl`, data: statePickle(entries, false) },
    ...entries.map(([, t], i) => ({ name: `${folder}/data/${i}`, data: bytesOf(t) })),
    { name: `${folder}/version`, data: new TextEncoder().encode('3\n') },
  ]);
}

export function torchLegacy(state: Map<string, TorchEntry>): Uint8Array {
  const entries = [...state];
  const p = new Pickle();
  p.raw('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.'); // magic number
  p.raw('\x80\x02M\xe9\x03.'); // protocol 1001
  p.raw('\x80\x02}(').str('protocol_version').raw('M\xe9\x03').str('little_endian').raw('\x88');
  p.str('type_sizes').raw('}(').str('short').raw('K\x02').str('int').raw('K\x04');
  p.str('long').raw('K\x04u').raw('u.');
  p.bytes(statePickle(entries, true));
  // Keys sorted as strings, as torch does ('10' before '2').
  const keys = entries.map((_, i) => String(i)).sort();
  p.raw('\x80\x02](');
  for (const k of keys) p.str(k);
  p.raw('e.');
  for (const k of keys) {
    const t = (entries[Number(k)] as [string, TorchEntry])[1];
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(t.data.length), true);
    p.bytes(count).bytes(bytesOf(t));
  }
  return p.done();
}
