import { describe, expect, it } from "vitest";
import { applicationServerKey, enablePush, pushSupported, PushError } from "../src/push";

describe("push", () => {
  it("turns the server's base64url VAPID key into the bytes of a P-256 point", () => {
    // A key as GET /api/v1/push/vapid-public-key serves it (no padding, - and _).
    const key =
      "BNKrdSeu-SXwXKFQ-NTRY1o57omwkEFM7nhPjdVRwF47DnxI2i7KNWXzXdoc3146eXOWrW7dzT5xr39G9teO7ZA";
    const bytes = applicationServerKey(key);
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
    expect(Buffer.from(bytes).toString("base64url")).toBe(key);
  });

  it("refuses with `unsupported` where there is no Web Push", async () => {
    expect(pushSupported()).toBe(false);
    await expect(
      enablePush({ pushUrl: "http://x", apiUrl: "http://x", getToken: () => "t" }),
    ).rejects.toEqual(new PushError("unsupported", "this browser has no Web Push"));
  });
});
