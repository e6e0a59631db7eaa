/**
 * The device request asks for the limits the code reads, at the adapter's maximum, and leaves
 * the rest (the dynamic-offset limits included) at WebGPU's defaults. Dawn's two "artificially
 * reduced ... dynamic offset allocation limit" warnings are printed by requestAdapter itself
 * (Dawn clamps what a Vulkan driver such as lavapipe reports), so a command that opens the GPU
 * shows exactly the lines a bare requestAdapter shows, and nothing more.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPU_SKIP_REASON } from '@pfgmpp/test-utils';
import { describe, expect, it } from 'vitest';
import { RAISED_LIMITS, requiredLimits } from '../src/device.ts';

const PACKAGES = join(import.meta.dirname, '..', '..');

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('device limits', () => {
  it('asks for each raised limit at the adapter value, and for no other limit', () => {
    const adapter = {
      maxStorageBufferBindingSize: 2 ** 31,
      maxBufferSize: 2 ** 32 - 1,
      maxComputeWorkgroupStorageSize: 65536,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupSizeX: 1024,
      maxComputeWorkgroupSizeY: 1024,
      maxComputeWorkgroupSizeZ: 64,
      maxComputeWorkgroupsPerDimension: 65535,
      maxStorageBuffersPerShaderStage: 96,
      maxDynamicUniformBuffersPerPipelineLayout: 16,
      maxDynamicStorageBuffersPerPipelineLayout: 16,
      maxTextureDimension2D: 16384,
    } as unknown as GPUSupportedLimits;
    const asked = requiredLimits(adapter);
    expect(Object.keys(asked).sort()).toEqual([...RAISED_LIMITS].sort());
    for (const [k, v] of Object.entries(asked)) {
      expect(v, k).toBe(adapter[k as keyof GPUSupportedLimits]);
    }
  });

  it('raises every max* limit that the packages read', () => {
    // A kernel that reads a limit left at its default would find WebGPU's minimum there.
    const names = new Set<string>();
    for (const pkg of readdirSync(PACKAGES)) {
      let files: string[];
      try {
        files = sources(join(PACKAGES, pkg, 'src'));
      } catch {
        continue;
      }
      for (const f of files) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(
          /\bmax(?:Texture|BindGroups|Bindings|Dynamic|Sampled|Samplers|Storage|Uniform|Vertex|InterStage|Color|Compute|Buffer|Immediate)\w*/g,
        )) {
          names.add(m[0]);
        }
      }
    }
    expect(names.size).toBeGreaterThan(3);
    expect([...names].filter((n) => !(RAISED_LIMITS as readonly string[]).includes(n))).toEqual([]);
  });
});

describe.skipIf(GPU_SKIP_REASON)('device limits on the GPU (separate processes)', () => {
  const child = (mode: 'adapter' | 'device') => {
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=pfgmpp-source',
        '--import',
        'tsx',
        join(import.meta.dirname, 'limits-child.ts'),
        mode,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    const { sum, ...limits } = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    return {
      sum: sum as number[] | undefined,
      limits: limits as Record<string, number>,
      warnings: lines.filter((l) => l.includes('artificially reduced')),
      other: lines.filter((l) => !l.includes('artificially reduced')),
    };
  };

  it("opening the device prints only what Dawn's adapter discovery prints", () => {
    const adapter = child('adapter');
    const device = child('device');
    expect(device.sum).toEqual([4, 6]);
    expect(device.warnings).toEqual(adapter.warnings);
    expect(device.other).toEqual([]);
    // Not asked for: WebGPU's defaults, whatever the adapter offers.
    expect(device.limits.maxDynamicUniformBuffersPerPipelineLayout).toBe(8);
    expect(device.limits.maxDynamicStorageBuffersPerPipelineLayout).toBe(4);
    for (const name of RAISED_LIMITS) {
      expect(device.limits[name], name).toBe(adapter.limits[name]);
    }
  }, 240_000);
});
