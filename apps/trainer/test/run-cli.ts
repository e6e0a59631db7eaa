/** Runs `pfgmpp ARGS...` in this process with captured output (no TTY): exit code, stdout, stderr. */
import type { Io } from '../src/io.ts';
import { main } from '../src/main.ts';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}
