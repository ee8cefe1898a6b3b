/** The bell's stylesheet, injected once per document. Themes are CSS variables on `.tocsin`. */
const LIGHT =
  "--t-bg:#fff;--t-fg:#1f2328;--t-muted:#656d76;--t-line:#d8dee4;--t-hover:#f3f4f6;--t-unread:#eef4ff;--t-accent:#2563eb;--t-shadow:0 8px 24px rgba(15,23,42,.14)";
const DARK =
  "--t-bg:#1c2128;--t-fg:#e6edf3;--t-muted:#8d96a0;--t-line:#373e47;--t-hover:#262c36;--t-unread:#1d2a3f;--t-accent:#58a6ff;--t-shadow:0 8px 24px rgba(0,0,0,.5)";

const CSS = `
.tocsin{${LIGHT};position:relative;display:inline-block;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--t-fg)}
.tocsin[data-theme=dark]{${DARK}}
@media (prefers-color-scheme:dark){.tocsin[data-theme=auto]{${DARK}}}
.tocsin button{font:inherit;color:inherit;cursor:pointer}
.tocsin :focus-visible{outline:2px solid var(--t-accent);outline-offset:2px}
.tocsin-bell{position:relative;display:grid;place-items:center;width:40px;height:40px;border:1px solid var(--t-line);border-radius:10px;background:var(--t-bg)}
.tocsin-bell:hover{background:var(--t-hover)}
.tocsin-bell svg{width:22px;height:22px}
.tocsin-badge{position:absolute;top:-7px;right:-9px;min-width:20px;height:20px;padding:0 5px;box-sizing:border-box;border-radius:10px;background:#dc2626;color:#fff;font-size:11px;font-weight:700;line-height:20px;text-align:center;border:2px solid var(--t-bg)}
.tocsin-dot{position:absolute;bottom:-3px;right:-3px;width:10px;height:10px;border-radius:50%;border:2px solid var(--t-bg);background:#dc2626}
.tocsin-dot[data-state=connected]{background:#16a34a}
.tocsin-dot[data-state=connecting]{background:#f59e0b}
.tocsin-panel{position:absolute;right:0;top:48px;z-index:1000;width:360px;max-width:calc(100vw - 24px);background:var(--t-bg);border:1px solid var(--t-line);border-radius:12px;box-shadow:var(--t-shadow);overflow:hidden}
.tocsin-head{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;border-bottom:1px solid var(--t-line)}
.tocsin-head h2{margin:0;font-size:15px}
.tocsin .tocsin-link{background:none;border:0;padding:2px 4px;color:var(--t-accent);font-size:13px;text-decoration:none}
.tocsin .tocsin-link:disabled{color:var(--t-muted);cursor:default}
.tocsin-list{list-style:none;margin:0;padding:0;max-height:380px;overflow:auto}
.tocsin-item{display:flex;gap:10px;width:100%;padding:11px 14px;border:0;border-bottom:1px solid var(--t-line);background:none;text-align:left}
.tocsin-item:hover{background:var(--t-hover)}
.tocsin-item[data-unread=true]{background:var(--t-unread)}
.tocsin-item[data-unread=true] .tocsin-title{font-weight:600}
.tocsin-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.tocsin-mark{flex:none;width:8px;height:8px;margin-top:6px;border-radius:50%}
.tocsin-item[data-unread=true] .tocsin-mark{background:var(--t-accent)}
.tocsin-text{min-width:0;flex:1}
.tocsin-title{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tocsin-msg{display:block;color:var(--t-muted);font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tocsin-meta{display:block;color:var(--t-muted);font-size:12px;margin-top:2px}
.tocsin-empty{padding:28px 14px;text-align:center;color:var(--t-muted)}
.tocsin-foot{display:block;padding:10px 14px;text-align:center}
.tocsin-status{color:var(--t-muted);font-size:12px}
.tocsin-push{padding:0 14px 10px;text-align:center}
.tocsin-push-error{margin:6px 0 0;color:var(--t-muted);font-size:12px}
.tocsin-toasts{position:fixed;right:16px;bottom:16px;z-index:1100;display:flex;flex-direction:column;gap:8px;width:340px;max-width:calc(100vw - 32px)}
.tocsin-toast{display:flex;gap:8px;align-items:flex-start;padding:12px 12px 12px 14px;border-radius:10px;background:var(--t-bg);color:var(--t-fg);border:1px solid var(--t-line);border-left:5px solid var(--t-p);box-shadow:var(--t-shadow);animation:tocsin-in .18s ease-out}
.tocsin-toast-body{flex:1;min-width:0}
.tocsin-toast p{margin:2px 0 0;color:var(--t-muted);font-size:13px}
.tocsin-prio{display:block;font-size:11px;font-weight:700;letter-spacing:.04em;text-transform:uppercase;color:var(--t-p)}
.tocsin-p-low{--t-p:#6b7280}.tocsin-p-normal{--t-p:#2563eb}.tocsin-p-high{--t-p:#ea580c}.tocsin-p-critical{--t-p:#dc2626}
.tocsin-p-critical{background:color-mix(in srgb,#dc2626 9%,var(--t-bg))}
.tocsin-x{border:0;background:none;font-size:18px;line-height:1;padding:0 2px;color:var(--t-muted)}
@keyframes tocsin-in{from{opacity:0;transform:translateY(8px)}}
@media (prefers-reduced-motion:reduce){.tocsin-toast{animation:none}}
`;

export function injectStyles(): void {
  if (typeof document === "undefined" || document.querySelector("style[data-tocsin]")) return;
  const style = document.createElement("style");
  style.dataset.tocsin = "";
  style.textContent = CSS;
  document.head.append(style);
}
