import { defineConfig } from "vite";

// The demo page, served by `python -m services.demo` from dist/demo.
export default defineConfig({
  root: "demo",
  base: "./",
  esbuild: { jsx: "automatic" },
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: { outDir: "../dist/demo", emptyOutDir: true },
});
