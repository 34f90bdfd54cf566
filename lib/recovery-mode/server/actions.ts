/**
 * What the recovery page's forms do. Each action runs as a gpm command
 * would, under the CLI session's lock-and-repair (lib/cli/session.ts): the
 * installation lock for its duration (409 when another gpm holds it), and an
 * interrupted run finished or undone before anything changes. Under the lock,
 * before anything changes, the form's nonce is spent and the live version it
 * expects is compared with the live one: a replayed or stale form is a 409
 * that changes nothing.
 */
import { GpmError, Exit } from "../../util/errors.js";
import type { Logger } from "../../util/log.js";
import { installedVersion, type Installation } from "../../install/installation.js";
import { withLockedInstallation } from "../../cli/session.js";
import { isValidId, listManifests, type Manifest } from "../../store/manifest.js";
import { rollback } from "../../rollback/rollback.js";
import { clearBasis, clearRecoveryFlag, isValidPluginName, readRecoveryFlag } from "../flag.js";
import { listPlugins, setPluginEnabled } from "../plugins.js";
import type { Nonces } from "./nonces.js";
import { ROUTE } from "./pages.js";

/** An answer other than 200, with the one line to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ActionContext {
  inst: Installation;
  log: Logger;
  nonces: Nonces;
}

const REPLAYED = "this form was already used, or comes from an older page (a reload, a double click, or a replayed request); nothing was changed — open the overview again";

/** The manifest a form names: only the id of an existing manifest, compared as a string (never a path). */
export async function namedManifest(inst: Installation, id: string): Promise<Manifest> {
  const m = isValidId(id) ? (await listManifests(inst)).find((x) => x.id === id) : undefined;
  if (!m) throw new HttpError(400, "no such manifest");
  return m;
}

/** Under the lock: spend the nonce, check the expected live version, then act. */
async function guarded<T>(c: ActionContext, form: URLSearchParams, route: string, target: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withLockedInstallation(c.inst, c.log, `recovery serve: ${what}`, "write", async () => {
      if (!c.nonces.spend(form.get("nonce"), route, target)) throw new HttpError(409, REPLAYED);
      const live = (await installedVersion(c.inst)) ?? "";
      const expect = form.get("expect");
      if (expect !== live) throw new HttpError(409, `the site changed since this page was shown: ${live || "an unknown version"} is live, the page expected ${expect || "an unknown version"}; nothing was changed — open the overview again`);
      return fn();
    });
  } catch (err) {
    if (err instanceof GpmError && err.code === Exit.LOCKED) throw new HttpError(409, `another gpm is running (${err.message}); try again when it has finished`);
    throw err;
  }
}

export async function rollbackAction(c: ActionContext, form: URLSearchParams): Promise<string> {
  const m = await namedManifest(c.inst, form.get("manifest") ?? "");
  const withUser = form.get("user") === "1";
  return guarded(c, form, ROUTE.rollback, m.id, `rollback ${m.id}`, async () => {
    c.log.info({ manifest: m.id, withUser }, "recovery page: rollback requested");
    // With user/, rollback() disables again each quarantined plugin that user/config brought back enabled.
    const r = await rollback(c.inst, m.id, { log: c.log, withUser });
    const again = r.requarantined;
    const kept = again.length ? ` Quarantined plugins disabled again: ${again.join(", ")}.` : "";
    return `${r.direction === "redo" ? "Redo" : "Rollback"} with ${r.manifest.id} done: version ${r.live ?? "(unknown)"} is live${withUser ? ", user/ swapped too" : ", user/ unchanged"}.${kept} When the site works, clear recovery mode on the overview.`;
  });
}

export async function pluginAction(c: ActionContext, form: URLSearchParams, enable: boolean): Promise<string> {
  const name = form.get("plugin") ?? "";
  if (!isValidPluginName(name) || !(await listPlugins(c.inst)).some((p) => p.name === name)) throw new HttpError(400, "no such plugin");
  const verb = enable ? "enable" : "disable";
  return guarded(c, form, enable ? ROUTE.enable : ROUTE.disable, name, `${verb} plugin ${name}`, async () => {
    c.log.info({ plugin: name }, `recovery page: ${verb} plugin`);
    const r = await setPluginEnabled(c.inst, name, enable);
    return `${r.plugin.name} is ${enable ? "enabled" : "disabled"} (${r.plugin.configFile}).`;
  });
}

export async function clearAction(c: ActionContext, form: URLSearchParams): Promise<string> {
  return guarded(c, form, ROUTE.clear, "flag", "clear recovery mode", async () => {
    const flag = await readRecoveryFlag(c.inst);
    if (!flag) throw new HttpError(409, "recovery mode is already off; nothing was changed");
    const basis = await clearBasis(c.inst, flag);
    if (!basis.ok) throw new HttpError(409, `recovery mode stays on: ${basis.why}. Roll back, fix the site so its health check passes, or run \`gpm recovery clear --force\` on the server`);
    await clearRecoveryFlag(c.inst);
    c.log.info({ because: basis.because }, "recovery page: recovery mode cleared");
    return `Recovery mode is off (${basis.because === "rollback" ? `after the rollback with ${basis.manifest}` : `the health check of ${basis.url} answered ${basis.status}`}). gpm self-upgrade works again.`;
  });
}
