import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { IncidentState, IncidentUpdate } from "../src/core/types";
import { useChannel } from "../src/react/useChannel";
import { useNotificationWebSocket } from "../src/react/useNotificationWebSocket";
import { usePresence } from "../src/react/usePresence";
import { useTyping } from "../src/react/useTyping";
import { actOnIncident, loadIncident, type DemoConfig } from "./api";

interface Loaded {
  incident: IncidentState;
  seq: number;
  timeline: IncidentUpdate[];
}

function describe(update: IncidentUpdate): string {
  const who = update.actor?.name ?? update.actor?.id ?? "someone";
  const change = update.change;
  if (change.comment) return `${who}: ${change.comment.excerpt}`;
  if (change.new_status) return `${who} set the status to ${change.new_status}`;
  if (change.type === "incident.created") return `${who} opened the incident`;
  return `${who}: ${change.type}`;
}

/**
 * The demo incident, live: first loaded over REST (`GET /api/v1/incidents/{id}`), then kept
 * current by `incident:updated` on channel `incident:<id>`, subscribed with `since` = the seq
 * the REST answer carried, so nothing between the two is lost. Typing shows who else is
 * writing a comment, presence who else has the page open.
 */
export function IncidentView({ config, user, getToken }: { config: DemoConfig; user: string; getToken: () => Promise<string> }) {
  const [loaded, setLoaded] = useState<Loaded | null | "missing">(null);
  const [comment, setComment] = useState("");
  const [result, setResult] = useState("");
  const { client } = useNotificationWebSocket({
    url: config.ws_url,
    getToken,
    reconnectInterval: config.reconnect_interval_ms,
    maxReconnectDelay: config.reconnect_max_delay_ms,
  });

  const reload = useCallback(async () => {
    const body = await loadIncident(config.api_url, config.incident_id, await getToken());
    setLoaded(body ?? "missing");
  }, [config.api_url, config.incident_id, getToken]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const onUpdate = useCallback((update: IncidentUpdate) => {
    setLoaded((current) => {
      if (!current || current === "missing" || update.seq <= current.seq) return current;
      return { incident: update.incident, seq: update.seq, timeline: [...current.timeline, update] };
    });
  }, []);
  const ready = loaded !== null && loaded !== "missing";
  const channel = useChannel(`incident:${config.incident_id}`, {
    client: ready ? client : null,
    since: ready ? loaded.seq : undefined,
    onUpdate,
    onResync: () => void reload(),
    presence: true,
  });
  const typing = useTyping(channel.subscription);
  const present = usePresence(`incident:${config.incident_id}`, { subscription: channel.subscription });

  const act = async (body: { change: string; status?: string; comment?: string }) => {
    setResult("Sending…");
    try {
      await actOnIncident(user, body);
      setResult("");
      if (loaded === "missing") {
        for (let i = 0; i < 50 && !(await loadIncident(config.api_url, config.incident_id, await getToken())); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await reload();
      }
    } catch (error) {
      setResult(`Failed: ${(error as Error).message}`);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!comment.trim()) return;
    typing.stop();
    void act({ change: "comment", comment });
    setComment("");
  };

  if (loaded === null) return <section className="card">Loading the incident…</section>;
  if (loaded === "missing")
    return (
      <section className="card" aria-labelledby="incident-title">
        <h2 id="incident-title">Incident INC-42</h2>
        <p>The demo incident has not been opened yet.</p>
        <button type="button" className="btn" onClick={() => void act({ change: "created" })}>
          Open the demo incident
        </button>
        <p className="result" role="status">{result}</p>
      </section>
    );
  const { incident, timeline } = loaded;
  return (
    <section className="card" aria-labelledby="incident-title">
      <h2 id="incident-title">
        {incident.key}: {incident.title}
      </h2>
      <p>
        Status: <strong data-testid="incident-status">{incident.status}</strong>{" "}
        <span className="muted" data-testid="channel-state">
          live updates {channel.state}
        </span>
      </p>
      <p className="muted">
        Here now: <span data-testid="present">{present.members.join(", ")}</span>
      </p>
      <div className="actions">
        {["investigating", "mitigated", "resolved"].map((status) => (
          <button key={status} type="button" className="btn secondary" onClick={() => void act({ change: "status", status })}>
            Mark {status}
          </button>
        ))}
      </div>
      <h3>Timeline</h3>
      <ol className="all" aria-label="Timeline">
        {timeline.map((update) => (
          <li key={update.seq}>{describe(update)}</li>
        ))}
      </ol>
      <form onSubmit={submit}>
        <label>
          Comment
          <textarea
            name="comment"
            value={comment}
            maxLength={500}
            onChange={(e) => {
              setComment(e.target.value);
              if (e.target.value) typing.keystroke();
              else typing.stop();
            }}
          />
        </label>
        <p className="muted" role="status" data-testid="typing">
          {typing.typists.length ? `${typing.typists.join(", ")} ${typing.typists.length > 1 ? "are" : "is"} typing…` : ""}
        </p>
        <button type="submit" className="btn">
          Add comment
        </button>
      </form>
      <p className="result" role="status">{result}</p>
    </section>
  );
}
