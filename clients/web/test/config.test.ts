import { afterEach, expect, it } from "vitest";
import { resolveEndpoints, socketUrlFor } from "../src/core/config";

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

it("puts the socket on the API's origin, ws: for http: and wss: for https:", () => {
  process.env.NEXT_PUBLIC_API_URL = "https://api.example.com/base";
  expect(resolveEndpoints().wsUrl).toBe("wss://api.example.com/api/v1/ws/notifications");
  expect(resolveEndpoints({ apiUrl: "http://localhost:8000" }).wsUrl).toBe(
    "ws://localhost:8000/api/v1/ws/notifications",
  );
  expect(socketUrlFor("https://tocsin.example.org:8443/")).toBe(
    "wss://tocsin.example.org:8443/api/v1/ws/notifications",
  );
});

it("keeps an explicit WebSocket URL over the derived one", () => {
  expect(resolveEndpoints({ apiUrl: "http://localhost:8000", wsUrl: "wss://rt.example.com" }).wsUrl).toBe(
    "wss://rt.example.com",
  );
});
