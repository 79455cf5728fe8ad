// Vite configuration of the SIPMan UI. `npm run build` writes ui/dist/, which
// the C++ server embeds. `npm run dev` serves the UI with hot reload and
// forwards /api/ to a running `sipman serve` (SIPMAN_API, default
// http://127.0.0.1:8080).
import { defineConfig } from 'vite';

const api = process.env.SIPMAN_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/metrics': { target: api },
      '/healthz': { target: api },
    },
  },
});
