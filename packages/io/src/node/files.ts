/** File helpers of the Node entry: reads that name the file, recursive listings, temp names. */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a folder'
            : (e as Error).message;
    throw new Error(`${path}: cannot read (${why})`, { cause: e });
  }
}

/**
 * Every regular file under `root`, as '/'-separated paths relative to it. Symbolic links to
 * files are followed; links to folders are not (no cycles, nothing outside the tree).
 */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const path = join(dir, e.name);
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path, name);
      else if (e.isFile()) out.push(name);
      else if (e.isSymbolicLink()) {
        const s = await stat(path).catch(() => undefined);
        if (s?.isFile()) out.push(name);
      }
    }
  };
  await walk(root, '');
  return out;
}

/** A hidden sibling name for writing `path` atomically. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}
