import { defineConfig } from "vite";

// The demo page, served by `python -m services.demo` from dist/demo.
export default defineConfig({
  root: "demo",
  base: "./",
  esbuild: { jsx: "automatic" },
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "../dist/demo",
    emptyOutDir: true,
    // index.html: the demo; seed.html: the bell exactly as the feature description writes it.
    rollupOptions: { input: { index: "demo/index.html", seed: "demo/seed.html" } },
  },
});
