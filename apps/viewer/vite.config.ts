/**
 * Builds the viewer as plain static files (dist/). The shipped MNIST checkpoint is not copied
 * into the source tree: the plugin below emits it next to index.html at build time and serves it
 * from the dev server, so the page opens with a working network offline and with one copy in git.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { DEFAULT_CHECKPOINT } from './src/params.ts';

const SHIPPED = join(import.meta.dirname, '../trainer/assets', DEFAULT_CHECKPOINT);

function shippedCheckpoint(): Plugin {
  return {
    name: 'pfgmpp-shipped-checkpoint',
    configureServer(server) {
      server.middlewares.use(`/${DEFAULT_CHECKPOINT}`, (_req, res) => {
        res.setHeader('content-type', 'application/octet-stream');
        res.end(readFileSync(SHIPPED));
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: DEFAULT_CHECKPOINT, source: readFileSync(SHIPPED) });
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: dist/ works from any folder of any static server.
  base: './',
  plugins: [shippedCheckpoint()],
  // The workspace packages from their sources (src/), no build needed (vitest.shared.ts).
  resolve: { conditions: ['pfgmpp-source', ...defaultClientConditions] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
