/**
 * Runs a PyTorch CPU peer script (apps/bench/peers/*.py) with Debian's python3-torch: the
 * script gets one JSON config argument and prints one JSON line of figures as its last line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';

/** The figures the script printed, or the reason it could not run (no python3 or no torch). */
export function runTorchPeer(script: string, config: object): Record<string, number> | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return 'PyTorch is not installed (apt-get install python3-torch)';
  }
  const path = fileURLToPath(new URL(`../../peers/${script}`, import.meta.url));
  const out = execFileSync(PYTHON, [path, JSON.stringify(config)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string);
}
