// Generates src/core/contract-types.ts (the protocol's types and close codes) from the JSON
// Schemas in contracts/schemas, which `python -m contracts.export` writes from the models.
//
//   node scripts/contract-types.mjs     # rewrite src/core/contract-types.ts
//
// test/contract-types.test.ts renders it again in memory and fails when the committed file
// differs. Only the schema keywords the contracts use are understood; anything else throws,
// so a new kind of schema is noticed rather than typed as `unknown`.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const SCHEMA_DIR = resolve(here, "../../../contracts/schemas");
export const OUTPUT = resolve(here, "../src/core/contract-types.ts");

/**
 * The schemas the browser uses. `sentWhole`: the server sends the pydantic model dumped whole
 * (`model_dump`, FastAPI's `response_model`), so every property is present, those with a
 * default included; elsewhere a property outside `required` is optional. `root: false` takes
 * only the schema's `$defs` (the frame `ServerMessage` is generic in its data: see types.ts).
 */
export const SCHEMAS = [
  { file: "ws-close-code" },
  { file: "notification-data", sentWhole: true },
  { file: "notification-stats", sentWhole: true },
  { file: "ws-server-message", root: false },
  { file: "ws-connection-established" },
  { file: "ws-subscribed" },
  { file: "incident.updated.data", sentWhole: true },
  { file: "ws-typing-notice" },
  { file: "realtime.presence" },
  { file: "presence-channel" },
];

/** Schema title → the name the client has always exported it under. */
export const NAMES = {
  ServerEvent: "ServerEventName",
  IncidentUpdated: "IncidentUpdate",
  ChannelPresence: "ChannelMembers",
  Comment: "IncidentComment",
};

const HEADER =
  "// Generated from contracts/schemas by `npm run generate` (scripts/contract-types.mjs).\n" +
  "// Do not edit by hand: change the contracts, run `python -m contracts.export`, then regenerate.\n";

const nameOf = (title) => NAMES[title] ?? title;

function comment(text, indent = "") {
  if (!text) return "";
  const lines = text.trim().split("\n");
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? " " + l : ""}`).join("\n")}\n${indent} */\n`;
}

/** Renders one schema file's types, adding each named type to `out` (name → text). */
function renderFile(schema, { sentWhole = false, root = true }, out) {
  const defs = schema.$defs ?? {};
  const refName = (ref) => {
    const match = /^#\/\$defs\/(.+)$/.exec(ref);
    if (!match || !defs[match[1]]) throw new Error(`unsupported $ref ${ref}`);
    const def = defs[match[1]];
    const name = nameOf(def.title ?? match[1]);
    declare(name, def);
    return name;
  };

  const type = (s) => {
    if (s.$ref) return refName(s.$ref);
    if ("const" in s) return JSON.stringify(s.const);
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (s.anyOf || s.oneOf) return [...new Set((s.anyOf ?? s.oneOf).map(type))].join(" | ");
    switch (s.type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "null":
        return "null";
      case "array": {
        const item = type(s.items);
        return item.includes(" ") ? `(${item})[]` : `${item}[]`;
      }
      case "object":
        return objectType(s);
      default:
        throw new Error(`unsupported schema ${JSON.stringify(s)}`);
    }
  };

  const objectType = (s) => {
    if (s.properties) return `{\n${members(s, "  ")}}`;
    const values = typeof s.additionalProperties === "object" ? type(s.additionalProperties) : "unknown";
    if (s.propertyNames) return `Partial<Record<${type(s.propertyNames)}, ${values}>>`;
    return `Record<string, ${values}>`;
  };

  const members = (s, indent) => {
    const required = new Set(sentWhole ? Object.keys(s.properties) : (s.required ?? []));
    return Object.entries(s.properties)
      .map(([key, p]) => {
        const optional = required.has(key) ? "" : "?";
        return `${comment(p.description, indent)}${indent}${key}${optional}: ${type(p)};\n`;
      })
      .join("");
  };

  function declare(name, s) {
    let text;
    if (s.oneOf && s.oneOf.every((o) => "const" in o && o.title)) {
      // An enum: esbuild inlines its members where they are used, so the bundle stays small.
      const entries = s.oneOf.map((o) => `${comment(o.description, "  ")}  ${o.title} = ${JSON.stringify(o.const)},\n`);
      text = `${comment(s.description)}export enum ${name} {\n${entries.join("")}}\n`;
    } else if (s.type === "object" && s.properties) {
      text = `${comment(s.description)}export interface ${name} {\n${members(s, "  ")}}\n`;
    } else {
      const union = type(s);
      const line = `export type ${name} = ${union};`;
      const wrapped = union.split(" | ").map((member) => `\n  | ${member}`);
      text = `${comment(s.description)}${line.length <= 100 ? line : `export type ${name} =${wrapped.join("")};`}\n`;
    }
    if (out.has(name) && out.get(name) !== text) {
      throw new Error(`${name} is defined differently by two schemas`);
    }
    out.set(name, text);
  }

  if (root) declare(nameOf(schema.title), schema);
  else Object.values(defs).forEach((def) => declare(nameOf(def.title), def));
}

/** The text of src/core/contract-types.ts for the schemas in `schemaDir`. */
export function renderContractTypes(schemaDir = SCHEMA_DIR) {
  const out = new Map();
  for (const entry of SCHEMAS) {
    const schema = JSON.parse(readFileSync(join(schemaDir, `${entry.file}.schema.json`), "utf8"));
    renderFile(schema, entry, out);
  }
  return `${HEADER}\n${[...out.values()].join("\n")}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(OUTPUT, renderContractTypes());
  console.log(`wrote ${OUTPUT}`);
}
