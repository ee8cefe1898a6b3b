import { defineConfig } from "vite";

// The library: `dist/lib/core.js` (framework-free) and `dist/lib/tocsin.js` (core + React),
// React left to the application; `dist/lib/push.js` is Web Push (enablePush/disablePush).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist/lib",
    emptyOutDir: true,
    sourcemap: true,
    lib: {
      entry: { tocsin: "src/index.ts", core: "src/core/index.ts", push: "src/push.ts" },
      formats: ["es"],
    },
    rollupOptions: { external: ["react", "react-dom", "react/jsx-runtime"] },
  },
});
