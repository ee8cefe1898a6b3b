import { defineConfig } from "vite";

// The library: `dist/lib/core.js` (framework-free) and `dist/lib/tocsin.js` (core + React),
// React left to the application.
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist/lib",
    emptyOutDir: true,
    sourcemap: true,
    lib: {
      entry: { tocsin: "src/index.ts", core: "src/core/index.ts" },
      formats: ["es"],
    },
    rollupOptions: { external: ["react", "react-dom", "react/jsx-runtime"] },
  },
});
