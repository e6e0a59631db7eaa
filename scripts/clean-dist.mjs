// Removes the working folder's dist/ before a package build, so a source file deleted or renamed
// since the last build leaves no stale module behind in what `npm pack` ships.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
