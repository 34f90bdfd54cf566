/**
 * The recovery page's HTML building blocks (SPEC section 8): plain forms,
 * one inline stylesheet pinned by its hash in a strict CSP, no script,
 * nothing loaded from anywhere. Every value shown is escaped here.
 */
import crypto from "node:crypto";
import type http from "node:http";

const STYLE = [
  "body{font:16px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:64em;padding:0 1em;color:#111}",
  "h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em}",
  "table{border-collapse:collapse;width:100%}td,th{padding:.35em .6em;border-bottom:1px solid #ccc;text-align:left;vertical-align:top}",
  "form{display:inline;margin:0}button{font:inherit;padding:.3em .8em;margin:.15em .3em .15em 0;cursor:pointer}",
  "button.primary{background:#0a58ca;color:#fff;border:1px solid #084298;font-weight:600}button.danger{background:#fff;color:#a00;border:1px solid #a00}",
  ".flag{background:#fee;padding:.6em 1em;border:2px solid #c00}.ok{background:#efe;padding:.6em 1em;border:2px solid #080}.warn{background:#fff4d6;padding:.6em 1em;border:2px solid #b80}",
  ".live{background:#080;color:#fff;padding:.05em .45em;border-radius:.3em;font-weight:600;white-space:nowrap}",
  ".q{background:#c00;color:#fff;padding:.05em .45em;border-radius:.3em;font-weight:600}",
  "tr.current{background:#f1fbf1}small,.muted{color:#555}code{background:#f3f3f3;padding:0 .2em}ul.plan li{margin:.3em 0}",
].join("");
// A strict CSP: no script at all, only this exact stylesheet, forms only to ourselves.
const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${crypto.createHash("sha256").update(STYLE).digest("base64")}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function send(res: http.ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(html, "utf8");
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": String(body.length),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    ...headers,
  });
  res.end(body);
}

/** The whole document. `publicNote`: the server listens beyond loopback (`--public`), said on every page. */
export function page(title: string, body: string, publicNote = false): string {
  const banner = publicNote
    ? `<p class="warn"><strong>This page is reachable from the network</strong> (<code>gpm recovery serve --public</code>). Anyone who gets a link with a valid token can change this site; stop the server when you are done. An SSH tunnel is safer: see docs/RECOVERY-MODE.md.</p>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width,initial-scale=1"><title>gpm recovery — ${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${banner}<h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** A time as the server's local time beside the ISO string, and how long ago. */
export function when(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return escapeHtml(iso);
  const local = new Intl.DateTimeFormat("en-GB", { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" }).format(t);
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(local)}</time> <small>(${escapeHtml(iso)}, ${escapeHtml(ago(now - t))})</small>`;
}

function ago(ms: number): string {
  if (ms < 0) return "in the future";
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min ago`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h ago` : `${Math.round(h / 24)} days ago`;
}

/** What every form of one page needs: the token, and a nonce per state-changing form. */
export interface FormContext {
  token: string;
  /** The live version the page was made for ("" when unknown). */
  live: string;
  nonce(route: string, target: string): string;
}

const hidden = (name: string, value: string): string => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

/** A state-changing form: token, a single-use nonce for (route, target), the live version it expects, its fields. */
export function postForm(f: FormContext, route: string, target: string, fields: Record<string, string>, label: string, cls = ""): string {
  const inputs = [hidden("token", f.token), hidden("nonce", f.nonce(route, target)), hidden("expect", f.live), ...Object.entries(fields).map(([k, v]) => hidden(k, v))];
  return `<form method="post" action="${route}">${inputs.join("")}<button${cls ? ` class="${cls}"` : ""}>${escapeHtml(label)}</button></form>`;
}

/** A form that only shows a page (GET: never changes anything). */
export function getForm(route: string, token: string, fields: Record<string, string>, label: string, cls = ""): string {
  return `<form method="get" action="${route}">${[hidden("token", token), ...Object.entries(fields).map(([k, v]) => hidden(k, v))].join("")}<button${cls ? ` class="${cls}"` : ""}>${escapeHtml(label)}</button></form>`;
}

export const backLink = (token: string): string => `<p>${getForm("/", token, {}, "Back to the overview")}</p>`;
