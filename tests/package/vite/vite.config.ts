// The settings a Vite app needs for portal-backup (the README shows the same).
import { defineConfig } from 'vite';
import wasm from 'vite-plugin-wasm';

export default defineConfig({
  // `bundler` target: the package imports its .wasm as an ES module, which
  // Vite leaves to this plugin.
  plugins: [wasm()],
  // `web` target, dev server: pre-bundling would move the module away from
  // the .wasm its init() fetches by a URL relative to itself (a 404).
  optimizeDeps: { exclude: ['portal-backup'] },
});
