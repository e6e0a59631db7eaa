/**
 * GPU set-up for tests. Tests run on a real adapter (lavapipe counts). With no adapter they
 * fail, unless PFGMPP_NO_GPU=1 marks the run as GPU-less: then GPU suites are skipped and say why.
 */
import { type Gpu, getDevice } from '@pfgmpp/tensor/node';

export const GPU_SKIP_REASON =
  process.env.PFGMPP_NO_GPU === '1'
    ? 'PFGMPP_NO_GPU=1: GPU tests skipped on request (no WebGPU adapter on this machine)'
    : null;

if (GPU_SKIP_REASON) console.warn(`[skip] ${GPU_SKIP_REASON}`);

/** The shared device; throws (fails the test) when no adapter exists. */
export function testGpu(): Promise<Gpu> {
  return getDevice();
}
