// ESLint (flat config): typescript-eslint's recommended rules everywhere, React's hook rules
// (rules of hooks, exhaustive deps) on the hooks and components. `npm test` runs it before the unit tests.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["src/react/**/*.{ts,tsx}", "demo/**/*.tsx"],
    plugins: { "react-hooks": reactHooks },
    // The rules of hooks and their dependencies. The React Compiler's rules (refs,
    // set-state-in-effect) are left out: they refuse the latest-value ref written during render,
    // which these hooks use so a new callback prop does not reopen the socket, and whose
    // replacement (useEffectEvent) needs React 19.2 while the peer range starts at 18.
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
    },
  },
);
