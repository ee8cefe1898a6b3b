import { expect, it } from "vitest";
import { safeLink } from "../src/core/links";

const PAGE = "https://app.example.com/inbox";

it("follows relative paths and http(s) links on the page's host or an allowed host", () => {
  for (const url of [
    "/incidents/42",
    "/incidents/42?tab=log#c3",
    "#/incidents/42",
    "https://app.example.com/x",
  ]) {
    expect(safeLink(url, PAGE)).toBe(url);
  }
  expect(safeLink("http://APP.example.com/x", PAGE)).toBe("http://APP.example.com/x");
  expect(safeLink("https://docs.example.com/x", PAGE, ["docs.example.com"])).toBe(
    "https://docs.example.com/x",
  );
});

it("refuses scripts, other schemes, off-site and disguised links", () => {
  for (const url of [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "https://evil.example/x",
    "https://app.example.com.evil.example/x",
    "https://user:pass@app.example.com/x",
    "ftp://app.example.com/x",
    "incidents/42",
    "",
    null,
    undefined,
  ]) {
    expect(safeLink(url, PAGE), String(url)).toBeNull();
  }
});
