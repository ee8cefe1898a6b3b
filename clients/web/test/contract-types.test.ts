/**
 * src/core/contract-types.ts is what scripts/contract-types.mjs makes of contracts/schemas:
 * a change to the contracts that was not regenerated (`npm run generate`) fails here.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OUTPUT, SCHEMA_DIR, renderContractTypes } from "../scripts/contract-types.mjs";
import { CloseCode } from "../src/core/contract-types";

describe("contract types", () => {
  it("are current with contracts/schemas", () => {
    const committed = readFileSync(OUTPUT, "utf8");
    expect(renderContractTypes(SCHEMA_DIR) === committed, "run `npm run generate`").toBe(true);
  });

  it("follow a schema that changed", () => {
    const dir = mkdtempSync(join(tmpdir(), "tocsin-schemas-"));
    cpSync(SCHEMA_DIR, dir, { recursive: true });
    const path = join(dir, "notification-data.schema.json");
    const schema = JSON.parse(readFileSync(path, "utf8"));
    schema.properties.snoozed_until = { type: "string", format: "date-time" };
    writeFileSync(path, JSON.stringify(schema));
    const rendered = renderContractTypes(dir);
    rmSync(dir, { recursive: true });
    expect(rendered).not.toBe(readFileSync(OUTPUT, "utf8"));
    expect(rendered).toContain("  snoozed_until: string;\n");
  });

  it("carry the close codes the realtime service sends", () => {
    expect(CloseCode.INVALID_TOKEN).toBe(4002);
    expect(CloseCode.SERVICE_RESTART).toBe(1012);
  });
});
