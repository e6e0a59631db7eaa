/**
 * Builds the viewer as plain static files (dist/). Two files are not copied into the source tree:
 * the shipped MNIST checkpoint and the measured robustness figure (docs/images). The plugin below
 * emits them next to index.html at build time and serves them from the dev server, so the page
 * opens with a working network and its robustness result offline, with one copy of each in git.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { DEFAULT_CHECKPOINT, ROBUSTNESS_FIGURE } from './src/params.ts';

/** URL name -> file. */
const EMITTED: Record<string, string> = {
  [DEFAULT_CHECKPOINT]: join(import.meta.dirname, '../trainer/assets', DEFAULT_CHECKPOINT),
  [ROBUSTNESS_FIGURE]: join(import.meta.dirname, '../../docs/images', ROBUSTNESS_FIGURE),
};

function emittedFiles(): Plugin {
  return {
    name: 'pfgmpp-emitted-files',
    configureServer(server) {
      for (const [name, file] of Object.entries(EMITTED)) {
        server.middlewares.use(`/${name}`, (_req, res) => {
          res.setHeader(
            'content-type',
            name.endsWith('.png') ? 'image/png' : 'application/octet-stream',
          );
          res.end(readFileSync(file));
        });
      }
    },
    generateBundle() {
      for (const [name, file] of Object.entries(EMITTED))
        this.emitFile({ type: 'asset', fileName: name, source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: dist/ works from any folder of any static server.
  base: './',
  plugins: [emittedFiles()],
  // The workspace packages from their sources (src/), no build needed (vitest.shared.ts).
  resolve: { conditions: ['pfgmpp-source', ...defaultClientConditions] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
