import http from "node:http";
import crypto from "node:crypto";
import { GpmError, Exit, errorMessage } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import { installedVersion, type Installation } from "../install/installation.js";
import { acquireLock } from "../install/lock.js";
import { isValidId, listManifests, type Manifest } from "../store/manifest.js";
import { readRecoveryFlag, isValidPluginName, type FlagState } from "../recovery-mode/flag.js";
import { listPlugins, setPluginEnabled, type PluginInfo } from "../recovery-mode/plugins.js";
import { verifyToken } from "../recovery-mode/token.js";
import { rollback } from "../rollback/rollback.js";
import { needsRecovery, recoverInterrupted } from "../repair/recover.js";

/**
 * The recovery page (SPEC section 8): node:http only, so it works when the
 * application itself cannot boot. Every request needs a token (GET: `?token=`
 * or `Authorization: Bearer`; POST: a `token` field in the form body, so a
 * link alone can never change anything). Each state-changing action takes the
 * installation lock for its duration, like any gpm command.
 */
export interface RecoveryServerOptions {
  host?: string;
  port?: number;
  log: Logger;
}

export interface RecoveryServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_MANIFESTS_SHOWN = 20;

const STYLE = "body{font:15px/1.4 system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ccc;text-align:left}form{display:inline}.flag{background:#fee;padding:.5em 1em;border:1px solid #c00}.ok{background:#efe;padding:.5em 1em;border:1px solid #080}";
// A strict CSP: no script at all, only this exact stylesheet, forms only to ourselves.
const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${crypto.createHash("sha256").update(STYLE).digest("base64")}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const ROUTES: Record<string, string> = { "/": "GET", "/rollback": "POST", "/plugins/disable": "POST", "/plugins/enable": "POST" };

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startRecoveryServer(inst: Installation, opts: RecoveryServerOptions): Promise<RecoveryServer> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log;
  const server = http.createServer((req, res) => {
    handle(inst, log, req, res).catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, "recovery page: internal error");
      if (!res.headersSent) send(res, 500, page("Internal error", "<p>The request failed; see gpm's log.</p>"));
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new GpmError(Exit.ERROR, `cannot listen on ${host}:${opts.port ?? 0}: ${errorMessage(err)}`, "pick another --port or --host")));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const urlHost = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(inst: Installation, log: Logger, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://recovery.invalid");
  const allowed = ROUTES[url.pathname];
  if (!allowed) return send(res, 404, page("Not found", "<p>There is no such page.</p>"));
  if (req.method !== allowed) {
    res.setHeader("Allow", allowed);
    return send(res, 405, page("Method not allowed", `<p>Use ${allowed}.</p>`));
  }
  if (allowed === "GET") {
    const token = url.searchParams.get("token") ?? bearer(req);
    if (!(await verifyToken(inst, token, { log }))) return unauthorized(res);
    return send(res, 200, await overview(inst, token!));
  }
  let form: URLSearchParams;
  try {
    form = await readForm(req);
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page("Bad request", `<p>${escapeHtml(err.message)}</p>`));
    throw err;
  }
  // The token must be in the body: a query-string or header token is not enough for a change.
  const token = form.get("token");
  if (!(await verifyToken(inst, token, { log }))) return unauthorized(res);
  try {
    const result = url.pathname === "/rollback" ? await rollbackAction(inst, log, form) : await pluginAction(inst, log, form, url.pathname === "/plugins/enable");
    return send(res, 200, page("Done", `<p class="ok">${escapeHtml(result)}</p>${backLink(token!)}`));
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, page(err.status === 409 ? "Busy" : "Bad request", `<p>${escapeHtml(err.message)}</p>${backLink(token!)}`));
    if (err instanceof GpmError) {
      log.error({ err: err.message }, "recovery page: action failed");
      return send(res, 500, page("Failed", `<p class="flag">${escapeHtml(err.message)}${err.hint ? ` — ${escapeHtml(err.hint)}` : ""}</p>${backLink(token!)}`));
    }
    throw err;
  }
}

function bearer(req: http.IncomingMessage): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return m ? m[1]! : null;
}

/** The form body: application/x-www-form-urlencoded, at most MAX_BODY_BYTES; any other body counts as empty. */
async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** Run a state-changing action under the installation lock (409 when another gpm holds it). */
async function underLock<T>(inst: Installation, log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  let lock;
  try {
    lock = await acquireLock(inst, `recovery serve: ${what}`, log);
  } catch (err) {
    if (err instanceof GpmError && err.code === Exit.LOCKED) throw new HttpError(409, `another gpm is running (${err.message}); try again when it has finished`);
    throw err;
  }
  try {
    // Like every gpm command: finish or undo an interrupted run before changing anything.
    if (await needsRecovery(inst)) await recoverInterrupted(inst, log);
    return await fn();
  } finally {
    await lock.release();
  }
}

async function rollbackAction(inst: Installation, log: Logger, form: URLSearchParams): Promise<string> {
  const id = form.get("manifest") ?? "";
  // Only the id of an existing manifest is accepted, compared as a string; it is never a path here.
  if (!isValidId(id) || !(await listManifests(inst)).some((m) => m.id === id)) throw new HttpError(400, "no such manifest");
  return underLock(inst, log, `rollback ${id}`, async () => {
    log.info({ manifest: id }, "recovery page: rollback requested");
    const r = await rollback(inst, id, { log });
    return `${r.direction === "redo" ? "Redo" : "Rollback"} with ${r.manifest.id} done: version ${r.live ?? "(unknown)"} is live. When the site works, run \`gpm recovery clear\`.`;
  });
}

async function pluginAction(inst: Installation, log: Logger, form: URLSearchParams, enable: boolean): Promise<string> {
  const name = form.get("plugin") ?? "";
  if (!isValidPluginName(name) || !(await listPlugins(inst)).some((p) => p.name === name)) throw new HttpError(400, "no such plugin");
  return underLock(inst, log, `${enable ? "enable" : "disable"} plugin ${name}`, async () => {
    log.info({ plugin: name }, `recovery page: ${enable ? "enable" : "disable"} plugin`);
    const r = await setPluginEnabled(inst, name, enable);
    return `${r.plugin.name} is ${enable ? "enabled" : "disabled"} (${r.plugin.configFile}).`;
  });
}

function send(res: http.ServerResponse, status: number, html: string): void {
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

function unauthorized(res: http.ServerResponse): void {
  send(res, 401, page("Unauthorized", "<p>A valid recovery token is needed. Get one with <code>gpm recovery token</code>, or open the URL that <code>gpm recovery serve</code> printed.</p>"));
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>gpm recovery — ${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function backLink(token: string): string {
  return `<form method="get" action="/"><input type="hidden" name="token" value="${escapeHtml(token)}"><button>Back to the overview</button></form>`;
}

function postForm(action: string, token: string, field: string, value: string, label: string): string {
  return `<form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="${field}" value="${escapeHtml(value)}"><button>${escapeHtml(label)}</button></form>`;
}

async function overview(inst: Installation, token: string): Promise<string> {
  const [flag, manifests, plugins, version] = await Promise.all([readRecoveryFlag(inst), listManifests(inst), listPlugins(inst), installedVersion(inst).catch(() => null)]);
  return page(
    "Recovery",
    [
      `<p>Installation <code>${escapeHtml(inst.root)}</code>, version ${escapeHtml(version ?? "(unknown)")}.</p>`,
      flagSection(flag),
      manifestSection(manifests.slice(-MAX_MANIFESTS_SHOWN).reverse(), token),
      pluginSection(plugins, flag, token),
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
