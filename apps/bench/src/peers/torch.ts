/**
 * Runs a PyTorch peer script (apps/bench/peers/*.py): the script gets one JSON config argument
 * and prints one JSON line of figures as its last line. By default Debian's python3-torch on
 * the CPU; on a GPU machine PFGMPP_PEER_PYTHON names the interpreter that has CUDA PyTorch and
 * PFGMPP_PEER_DEVICE=cuda moves the peer's work to the GPU (config key `device`).
 * PFGMPP_PEERS_DIR points at the scripts when the bench runs from a bundle.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON = process.env.PFGMPP_PEER_PYTHON || '/usr/bin/python3';
const DEVICE = process.env.PFGMPP_PEER_DEVICE || 'cpu';

/** The figures the script printed, or the reason it could not run (no python3 or no torch). */
export function runTorchPeer(script: string, config: object): Record<string, number> | string {
  return runPythonPeer(
    script,
    config,
    'torch',
    'PyTorch is not installed (apt-get install python3-torch)',
  );
}

/**
 * The same for a peer script that needs the Python module `module` instead (`missing`: what to
 * say where it is not installed); the config's `device` key is added all the same.
 */
export function runPythonPeer(
  script: string,
  config: object,
  module: string,
  missing: string,
): Record<string, number> | string {
  if (PYTHON.includes('/') && !existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
  } catch {
    return missing;
  }
  const dir = process.env.PFGMPP_PEERS_DIR;
  const path = dir
    ? join(dir, script)
    : fileURLToPath(new URL(`../../peers/${script}`, import.meta.url));
  const args = [path, JSON.stringify({ device: DEVICE, ...config })];
  const out = execFileSync(PYTHON, args, { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string);
}
