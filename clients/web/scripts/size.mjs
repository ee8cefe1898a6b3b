// Prints the gzipped size of the client core and of core + hook + bell, React excluded.
// `--json` prints {"core": bytes, "react": bytes} for bench/web_metrics.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const entries = { core: "src/core/index.ts", "core + hook + bell": "src/index.ts" };
const goals = { core: 4096, "core + hook + bell": 15360 };
const sizes = {};
for (const [name, entry] of Object.entries(entries)) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    jsx: "automatic",
    external: ["react", "react-dom", "react/jsx-runtime"],
    write: false,
  });
  const code = result.outputFiles[0].contents;
  sizes[name] = { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
if (process.argv.includes("--json")) {
  console.log(JSON.stringify(sizes));
} else {
  console.log("bundle               minified   gzipped   goal");
  for (const [name, s] of Object.entries(sizes)) {
    const ok = s.gzip <= goals[name] ? "ok" : "OVER";
    console.log(
      `${name.padEnd(20)} ${String(s.min).padStart(8)} B ${String(s.gzip).padStart(7)} B   ≤ ${goals[name] / 1024} KB ${ok}`,
    );
  }
}
