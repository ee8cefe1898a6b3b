import { afterEach, expect, it } from "vitest";
import { resolveEndpoints } from "../src/core/config";

afterEach(() => {
  delete process.env.NEXT_PUBLIC_API_URL;
  delete process.env.NEXT_PUBLIC_WS_URL;
});

it("prefers props over NEXT_PUBLIC_* variables", () => {
  process.env.NEXT_PUBLIC_API_URL = "https://api.example.com";
  process.env.NEXT_PUBLIC_WS_URL = "wss://rt.example.com";
  expect(resolveEndpoints({ apiUrl: "http://a:1", wsUrl: "ws://b:2" })).toEqual({
    apiUrl: "http://a:1",
    wsUrl: "ws://b:2",
  });
  expect(resolveEndpoints()).toEqual({
    apiUrl: "https://api.example.com",
    wsUrl: "wss://rt.example.com",
  });
});

it("derives the WebSocket origin from the API URL when no WebSocket URL is set", () => {
  process.env.NEXT_PUBLIC_API_URL = "https://api.example.com/base";
  expect(resolveEndpoints().wsUrl).toBe("wss://api.example.com");
  expect(resolveEndpoints({ apiUrl: "http://localhost:8000" }).wsUrl).toBe("ws://localhost:8000");
});
