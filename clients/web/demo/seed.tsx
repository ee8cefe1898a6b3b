/**
 * The feature description's snippet, verbatim, inside one provider: `<Header>
 * <NotificationBell /> </Header>`, with the API on this page's origin (the gateway serves the
 * page, the API and the socket) and a demo user's token. `seed.html?user=<demo user>`.
 */
import { StrictMode, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { NotificationBell, TocsinProvider } from "../src/index";
import { tokenSource } from "./api";

function Header({ children }: { children: ReactNode }) {
  return <header>{children}</header>;
}

const user = new URLSearchParams(location.search).get("user") ?? "alice";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <TocsinProvider apiUrl={location.origin} getToken={tokenSource(user)}>
      <Header>
        <NotificationBell />
      </Header>
    </TocsinProvider>
  </StrictMode>,
);
