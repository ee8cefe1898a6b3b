import { StrictMode, useEffect, useMemo, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { NotificationsApi } from "../src/core/rest";
import type { ConnectionState, NotificationData, Priority } from "../src/core/types";
import { NotificationBell } from "../src/react/NotificationBell";
import { broadcast, loadConfig, send, tokenSource, type DemoConfig } from "./api";
import { IncidentView } from "./incident";
import "./demo.css";

const PRIORITIES: Priority[] = ["low", "normal", "high", "critical"];

function initialUser(users: string[]): string | null {
  const wanted = new URLSearchParams(location.search).get("user") ?? sessionStorage.getItem("tocsin-user");
  return wanted && users.includes(wanted) ? wanted : null;
}

function SignIn({ users, onPick }: { users: string[]; onPick: (user: string) => void }) {
  return (
    <main className="card signin">
      <h1>Tocsin demo</h1>
      <p>Sign in as a demo user. Open a second tab (or a second browser) to watch both update.</p>
      <div className="users">
        {users.map((u) => (
          <button key={u} type="button" className="btn" onClick={() => onPick(u)}>
            {u}
          </button>
        ))}
      </div>
    </main>
  );
}

function SendForm({ users, me }: { users: string[]; me: string }) {
  const [to, setTo] = useState(me);
  const [title, setTitle] = useState("Incident INC-42 assigned to you");
  const [message, setMessage] = useState("Database latency above 2s on eu-west-1");
  const [priority, setPriority] = useState<Priority>("high");
  const [result, setResult] = useState("");

  const draft = () => ({ title, message, priority, entity_url: "#/incidents/INC-42" });
  const run = async (action: () => Promise<{ created: number }>, what: string) => {
    setResult("Sending…");
    try {
      await action();
      setResult(`Sent ${what}.`);
    } catch (error) {
      setResult(`Failed: ${(error as Error).message}`);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(() => send(to, draft()), `to ${to}`);
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="send-title">
      <h2 id="send-title">Send a test notification</h2>
      <label>
        To
        <select name="to" value={to} onChange={(e) => setTo(e.target.value)}>
          {users.map((u) => (
            <option key={u}>{u}</option>
          ))}
        </select>
      </label>
      <label>
        Title
        <input name="title" value={title} required maxLength={200} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Message
        <textarea name="message" value={message} maxLength={2000} onChange={(e) => setMessage(e.target.value)} />
      </label>
      <label>
        Priority
        <select name="priority" value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
          {PRIORITIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <div className="actions">
        <button type="submit" className="btn">
          Send
        </button>
        <button type="button" className="btn secondary" onClick={() => void run(() => broadcast(draft()), "to everyone")}>
          Broadcast to all demo users
        </button>
      </div>
      <p className="result" role="status" data-testid="send-result">
        {result}
      </p>
    </form>
  );
}

/** The "full notifications page" the bell links to: the 50 most recent, read or not. */
function AllNotifications({ api }: { api: NotificationsApi }) {
  const [items, setItems] = useState<NotificationData[] | null>(null);
  useEffect(() => {
    void api.list(50).then(setItems, () => setItems([]));
  }, [api]);
  return (
    <section className="card" aria-labelledby="all-title">
      <h2 id="all-title">All notifications</h2>
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>Nothing yet.</p>
      ) : (
        <ul className="all">
          {items.map((n) => (
            <li key={n.id} className={n.is_read ? "" : "unread"}>
              <strong>{n.title}</strong> <span className="muted">{n.priority}</span>
              <br />
              <span className="muted">{new Date(n.created_at).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
      <a href="#">Back</a>
    </section>
  );
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return hash;
}

function App({ config }: { config: DemoConfig }) {
  const [user, setUser] = useState(() => initialUser(config.users));
  const [dark, setDark] = useState(() => matchMedia("(prefers-color-scheme: dark)").matches);
  const [state, setState] = useState<ConnectionState>("disconnected");
  const [opened, setOpened] = useState("");
  const getToken = useMemo(() => (user ? tokenSource(user) : undefined), [user]);
  const api = useMemo(
    () => (getToken ? new NotificationsApi(config.api_url, getToken) : undefined),
    [config.api_url, getToken],
  );
  const hash = useHash();

  useEffect(() => {
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  }, [dark]);

  const pick = (next: string | null) => {
    if (next) sessionStorage.setItem("tocsin-user", next);
    else sessionStorage.removeItem("tocsin-user");
    setUser(next);
  };

  if (!user || !getToken || !api) return <SignIn users={config.users} onPick={pick} />;
  return (
    <>
      <header>
        <strong className="brand">Tocsin</strong>
        <span className={`status ${state}`} data-testid="connection-status">
          {state}
        </span>
        <span className="spacer" />
        <button type="button" className="btn secondary" onClick={() => setDark((d) => !d)}>
          {dark ? "Light" : "Dark"} theme
        </button>
        <a href={hash === "#incident" ? "#" : "#incident"}>{hash === "#incident" ? "Send form" : "Incident INC-42"}</a>
        <span data-testid="signed-in-as">Signed in as {user}</span>
        <button type="button" className="btn secondary" onClick={() => pick(null)}>
          Sign out
        </button>
        <NotificationBell
          key={user}
          apiUrl={config.api_url}
          wsUrl={config.ws_url}
          getToken={getToken}
          theme={dark ? "dark" : "light"}
          reconnectInterval={config.reconnect_interval_ms}
          maxReconnectDelay={config.reconnect_max_delay_ms}
          notificationsPageUrl="#notifications"
          onNavigate={(url) => setOpened(url)}
          onConnectionStateChange={setState}
        />
      </header>
      <main>
        {hash === "#notifications" ? (
          <AllNotifications key={user} api={api} />
        ) : hash === "#incident" ? (
          <IncidentView key={user} config={config} user={user} getToken={getToken} />
        ) : (
          <SendForm users={config.users} me={user} />
        )}
        {opened && <p className="card">Opened {opened}</p>}
      </main>
    </>
  );
}

void loadConfig().then((config) =>
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  ),
);
