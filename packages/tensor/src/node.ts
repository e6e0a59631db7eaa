/**
 * Node entry point: registers Dawn's WebGPU implementation (npm `webgpu`) for getDevice(), and
 * the kernel choices' settings from the environment. The only module of this package that
 * imports Node-specific code.
 *
 *   PFGMPP_ADAPTER=SUBSTRING   the first adapter whose name contains it (Dawn's adapter=;
 *                              requestGpu({ adapter }) asks for another by name)
 *   PFGMPP_DAWN_FLAGS='...'    more Dawn flags, space-separated (backend=vulkan, ...)
 *   PFGMPP_KERNELS=row,row     only these kernel rows (names or families; tests, debugging)
 *   PFGMPP_TUNE=0              no tuning: untuned shapes take the first row that fits
 *   PFGMPP_CACHE_DIR=DIR       where tuned kernel choices are kept (default ~/.cache/pfgmpp)
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { type ChoiceStore, parseRowList, setKernelSettings } from './choice.ts';
import { setGpuProvider } from './device.ts';

Object.assign(globalThis, globals);

/** Dawn's entry points by flags: one per adapter name asked for (Dawn takes it at creation). */
const dawn = new Map<string, GPU>();

/** A word nobody writes: Atomics.wait on it sleeps for its timeout. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleeps `ms` without using the CPU, then resolves from setImmediate, after the device poll
 * that Dawn's bindings queue with setImmediate while a promise of theirs is pending: one poll
 * per pause instead of a busy loop (Gpu.settle).
 */
function pauseHost(ms: number): Promise<void> {
  if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Dawn's flags: the adapter asked for, timestamps at full resolution (Dawn quantizes them to
 * 64 us by default on some drivers, which reads short kernels as 0 when tuning), and
 * PFGMPP_DAWN_FLAGS last, so they win.
 */
function dawnFlags(env: NodeJS.ProcessEnv = process.env, asked?: string): string[] {
  const flags = ['disable-dawn-features=timestamp_quantization'];
  const adapter = (asked ?? env.PFGMPP_ADAPTER)?.trim();
  if (adapter) flags.push(`adapter=${adapter}`);
  flags.push(...(env.PFGMPP_DAWN_FLAGS?.trim().split(/\s+/).filter(Boolean) ?? []));
  return flags;
}

setGpuProvider((adapter) => {
  const flags = dawnFlags(process.env, adapter);
  const key = flags.join(' ');
  let gpu = dawn.get(key);
  if (!gpu) {
    gpu = create(flags);
    dawn.set(key, gpu);
  }
  return gpu;
}, pauseHost);

/** Tuned kernel choices as files in `dir` (written to a temporary name, then renamed). */
function folderStore(dir: string): ChoiceStore {
  return {
    read(name) {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    write(name, text) {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.${name}.${process.pid}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(dir, name));
    },
    where: (name) => join(dir, name),
  };
}

/** The folder of tuned kernel choices: PFGMPP_CACHE_DIR, else XDG_CACHE_HOME/pfgmpp, else ~/.cache/pfgmpp. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PFGMPP_CACHE_DIR) return env.PFGMPP_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pfgmpp');
}

setKernelSettings(() => ({
  rows: parseRowList(process.env.PFGMPP_KERNELS),
  tune: !['0', 'off', 'false', 'no'].includes((process.env.PFGMPP_TUNE ?? '').toLowerCase()),
  store: folderStore(cacheDir()),
  log: (line) => process.stderr.write(`${line}\n`),
}));

export * from './index.ts';
