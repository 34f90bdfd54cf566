/**
 * The recovery page's pages, for an operator under stress: what is live
 * first, then only the actions that can work now, each explained, with a
 * confirmation before a rollback that says what goes live and what stays.
 */
import { escapeHtml as e, getForm, page, postForm, when, type FormContext } from "./html.js";
import type { ClearState, Overview, PluginRow, SnapshotRow, Swap } from "./view.js";
import type { Manifest } from "../../store/manifest.js";

export const ROUTE = { overview: "/", confirm: "/rollback/confirm", rollback: "/rollback", disable: "/plugins/disable", enable: "/plugins/enable", clear: "/recovery/clear" } as const;

export function overviewPage(o: Overview, f: FormContext, publicNote: boolean): string {
  const source = o.snapshots.find((s) => s.liveSource);
  const head =
    `<p>Installation <code>${e(o.root)}</code></p>` +
    `<p class="ok">Live now: <span class="live">version ${e(o.live ?? "unknown")}</span>` +
    (source ? ` — this tree came from snapshot <code>${e(source.m.id)}</code> (${source.m.status === "swapped" ? "put back by a rollback" : `the upgrade ${e(source.m.from ?? "?")} → ${e(source.m.to)}`}).` : ".") +
    `</p>`;
  return page("Recovery", head + flagSection(o, f) + snapshotSection(o.snapshots, f) + pluginSection(o, f), publicNote);
}

function flagSection(o: Overview, f: FormContext): string {
  const flag = o.flag;
  if (!flag) return `<p class="ok">Recovery mode is off (no recovery flag).</p>`;
  return (
    `<div class="flag"><p><strong>Recovery mode is on</strong> since ${when(flag.createdAt)}</p><p>Reason: ${e(flag.reason)}</p>` +
    (flag.manifest ? `<p>Upgrade involved: <code>${e(flag.manifest)}</code></p>` : "") +
    (flag.raw ? `<p>Flag content: <code>${e(flag.raw)}</code></p>` : "") +
    `<p>While it is on, <code>gpm self-upgrade</code> refuses. ${clearPart(o.clear!, f)}</p></div>`
  );
}

function clearPart(c: ClearState, f: FormContext): string {
  const form = (label: string): string => postForm(f, ROUTE.clear, "flag", {}, label, "primary");
  if (c.can === "yes") return `It may be cleared now (${e(c.because)}). ${form("Clear recovery mode")}`;
  if (c.can === "on-health") return `It may be cleared when the site answers its health check (<code>${e(c.url)}</code>, checked when you press). ${form("Check the site and clear recovery mode")}`;
  return `It cannot be cleared from here yet: ${e(c.why)}. Roll back below, or, once you have fixed the site by hand, run <code>gpm recovery clear --force</code> on the server.`;
}

function snapshotSection(rows: SnapshotRow[], f: FormContext): string {
  if (rows.length === 0) return "<h2>Snapshots</h2><p>No snapshots are stored, so there is nothing to roll back to.</p>";
  const body = rows.map((r) => {
    const mark = r.liveSource ? ` <span class="live">live tree came from here</span>` : "";
    const action = r.swap ? swapButtons(r.m, r.swap, f) : `<span class="muted">no action: ${e(r.why)}</span>`;
    return `<tr${r.liveSource ? ` class="current"` : ""}><td><code>${e(r.m.id)}</code>${mark}</td><td>${e(r.m.from ?? "?")} → ${e(r.m.to)}</td><td>${e(r.m.status)}</td><td>${when(r.m.createdAt)}</td><td>${action}</td></tr>`;
  });
  return (
    `<h2>Snapshots (newest first)</h2><p class="muted">Each upgrade kept the tree it replaced. Only the swaps that can work with the live version are offered; each asks for confirmation first.</p>` +
    `<table><tr><th>snapshot</th><th>from → to</th><th>status</th><th>taken</th><th>what you can do</th></tr>${body.join("")}</table>`
  );
}

function verb(s: Swap): string {
  return s.direction === "rollback" ? `Roll back to ${s.goesLive ?? "the previous version"}` : `Redo: put ${s.goesLive ?? "the newer version"} back`;
}

function swapButtons(m: Manifest, s: Swap, f: FormContext): string {
  const core = getForm(ROUTE.confirm, f.token, { manifest: m.id }, `${verb(s)} (core only)…`, "primary");
  const user = s.userCopy ? `<br>${getForm(ROUTE.confirm, f.token, { manifest: m.id, user: "1" }, `${verb(s)} and user/…`)} <small>also swaps user/ (pages, accounts, config) with the copy in the snapshot</small>` : "";
  return core + user;
}

/** The confirmation: what goes live, what stays, and the one button that does it. */
export function confirmPage(m: Manifest, s: Swap, withUser: boolean, live: string | null, f: FormContext, publicNote: boolean): string {
  const now = live ?? "the version that is live";
  const goes = s.goesLive ?? "the other version";
  const items = [
    `<li><strong>Goes live:</strong> the ${e(goes)} core (${m.core.map((c) => `<code>${e(c)}</code>`).join(", ")}) stored in snapshot <code>${e(m.id)}</code>, taken ${when(m.createdAt)}.</li>`,
    `<li><strong>Kept, not lost:</strong> the ${e(now)} core that is live now goes into the same snapshot; the same snapshot then offers to put it back.</li>`,
    withUser
      ? `<li><strong>user/ is swapped too:</strong> the copy of user/ in the snapshot goes live; the user/ that is live now (pages, accounts, uploads and config written since) is kept in the snapshot, which is pinned so it is never pruned.</li>`
      : `<li><strong>Stays live:</strong> user/ as it is now: pages, accounts, uploads and config written since the upgrade are not touched.</li>`,
    `<li><strong>Quarantined plugins stay disabled.</strong> The recovery flag stays; clear it on the overview once the site works.</li>`,
    `<li>The site shows its maintenance page during the swap (usually under a second).</li>`,
  ];
  const title = withUser ? `${verb(s)}, with user/?` : `${verb(s)}?`;
  const fields: Record<string, string> = { manifest: m.id, ...(withUser ? { user: "1" } : {}) };
  const body =
    `<p>Live now: <span class="live">version ${e(now)}</span></p><ul class="plan">${items.join("")}</ul>` +
    `<p>${postForm(f, ROUTE.rollback, m.id, fields, withUser ? `Yes: ${verb(s).toLowerCase()}, with user/` : `Yes: ${verb(s).toLowerCase()}`, "primary")} ${getForm(ROUTE.overview, f.token, {}, "Cancel")}</p>`;
  return page(title, body, publicNote);
}

function pluginSection(o: Overview, f: FormContext): string {
  const rows = o.plugins.map((p: PluginRow) => {
    const button = p.enabled ? postForm(f, ROUTE.disable, p.name, { plugin: p.name }, "Disable", "danger") : postForm(f, ROUTE.enable, p.name, { plugin: p.name }, "Enable");
    return `<tr><td><code>${e(p.name)}</code>${p.quarantined ? ` <span class="q">quarantined</span>` : ""}</td><td>${e(p.version ?? "?")}</td><td>${e(p.dir)}</td><td>${p.enabled ? "enabled" : "disabled"}</td><td>${button}</td></tr>`;
  });
  const missing = o.missingQuarantined.length ? `<p>Quarantined but not installed: ${o.missingQuarantined.map((n) => `<code>${e(n)}</code>`).join(", ")}</p>` : "";
  return (
    `<h2>Plugins and themes</h2><p class="muted">Disabling one while recovery mode is on quarantines it: it stays disabled across a rollback until you enable it here.</p>` +
    (rows.length ? `<table><tr><th>name</th><th>version</th><th>in</th><th>state</th><th></th></tr>${rows.join("")}</table>` : "<p>None found.</p>") +
    missing
  );
}

/** 401: what to do, and nothing about the installation. */
export function unauthorizedPage(): string {
  return page(
    "Link expired or not valid",
    `<p class="flag">This recovery link has expired or is not valid. Links are short-lived (15 minutes unless <code>--ttl</code> said otherwise).</p>` +
      `<p>For a new one, run on the server: <code>gpm recovery token</code>, then open this page as <code>/?token=&lt;the new token&gt;</code> (or restart <code>gpm recovery serve</code>, which prints a full link).</p>`,
  );
}
