/**
 * The recovery page's HTML (SPEC section 8): plain forms, one inline
 * stylesheet pinned by its hash in a strict CSP, no script, nothing loaded
 * from anywhere. Every value shown is escaped here.
 */
import crypto from "node:crypto";
import type http from "node:http";
import type { Installation } from "../../install/installation.js";
import type { Manifest } from "../../store/manifest.js";
import type { FlagState } from "../flag.js";
import type { PluginInfo } from "../plugins.js";

const STYLE = "body{font:15px/1.4 system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ccc;text-align:left}form{display:inline}.flag{background:#fee;padding:.5em 1em;border:1px solid #c00}.ok{background:#efe;padding:.5em 1em;border:1px solid #080}";
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

export function send(res: http.ServerResponse, status: number, html: string): void {
  const body = Buffer.from(html, "utf8");
  res.writeHead(status, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": String(body.length),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
  });
  res.end(body);
}

export function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>gpm recovery — ${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

export const unauthorizedPage = (): string =>
  page("Unauthorized", "<p>A valid recovery token is needed. Get one with <code>gpm recovery token</code>, or open the URL that <code>gpm recovery serve</code> printed.</p>");

export function backLink(token: string): string {
  return `<form method="get" action="/"><input type="hidden" name="token" value="${escapeHtml(token)}"><button>Back to the overview</button></form>`;
}

function postForm(action: string, token: string, field: string, value: string, label: string): string {
  return `<form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="${field}" value="${escapeHtml(value)}"><button>${escapeHtml(label)}</button></form>`;
}

export interface OverviewData {
  inst: Installation;
  version: string | null;
  flag: FlagState | null;
  manifests: Manifest[];
  plugins: PluginInfo[];
}

export function overviewPage(d: OverviewData, token: string): string {
  return page(
    "Recovery",
    [
      `<p>Installation <code>${escapeHtml(d.inst.root)}</code>, version ${escapeHtml(d.version ?? "(unknown)")}.</p>`,
      flagSection(d.flag),
      manifestSection(d.manifests, token),
      pluginSection(d.plugins, d.flag, token),
    ].join(""),
  );
}

function flagSection(flag: FlagState | null): string {
  if (!flag) return `<p class="ok">Recovery mode is off (no recovery flag).</p>`;
  return (
    `<div class="flag"><p><strong>Recovery mode is on</strong> since ${escapeHtml(flag.createdAt)}: ${escapeHtml(flag.reason)}</p>` +
    (flag.manifest ? `<p>Upgrade involved: ${escapeHtml(flag.manifest)}</p>` : "") +
    (flag.raw ? `<p>Flag content: <code>${escapeHtml(flag.raw)}</code></p>` : "") +
    `<p>After a rollback or a fix, run <code>gpm recovery clear</code>.</p></div>`
  );
}

function manifestSection(manifests: Manifest[], token: string): string {
  if (manifests.length === 0) return "<h2>Upgrades</h2><p>No snapshots are stored, so there is nothing to roll back to.</p>";
  const rows = manifests.map((m) => {
    // Only a finalized snapshot (roll back) or a swapped one (redo) holds a whole tree to swap with.
    const action =
      m.status === "finalized"
        ? postForm("/rollback", token, "manifest", m.id, `Roll back to ${m.from ?? "the previous version"}`)
        : m.status === "swapped"
          ? postForm("/rollback", token, "manifest", m.id, `Redo: put ${m.to} back`)
          : "";
    return `<tr><td><code>${escapeHtml(m.id)}</code></td><td>${escapeHtml(m.from ?? "?")} → ${escapeHtml(m.to)}</td><td>${escapeHtml(m.status)}</td><td>${escapeHtml(m.createdAt)}</td><td>${action}</td></tr>`;
  });
  return `<h2>Upgrades (newest first)</h2><table><tr><th>id</th><th>from → to</th><th>status</th><th>date</th><th></th></tr>${rows.join("")}</table>`;
}

function pluginSection(plugins: PluginInfo[], flag: FlagState | null, token: string): string {
  const known = new Set(plugins.map((p) => p.name));
  const missing = (flag?.quarantined ?? []).filter((n) => !known.has(n));
  const rows = plugins.map(
    (p) =>
      `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.dir)}</td><td>${p.enabled ? "enabled" : "disabled"}</td><td>${p.quarantined ? "quarantined" : ""}</td><td>${
        p.enabled ? postForm("/plugins/disable", token, "plugin", p.name, "Disable") : postForm("/plugins/enable", token, "plugin", p.name, "Enable")
      }</td></tr>`,
  );
  return (
    `<h2>Plugins and themes</h2>` +
    (rows.length ? `<table><tr><th>name</th><th>in</th><th>state</th><th></th><th></th></tr>${rows.join("")}</table>` : "<p>None found.</p>") +
    (missing.length ? `<p>Quarantined but not installed: ${missing.map((n) => `<code>${escapeHtml(n)}</code>`).join(", ")}</p>` : "")
  );
}
