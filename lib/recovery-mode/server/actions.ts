/**
 * What the recovery page's forms do. Each action runs as a gpm command
 * would, under the CLI session's lock-and-repair (lib/cli/session.ts): the
 * installation lock for its duration (409 when another gpm holds it), and an
 * interrupted run finished or undone before anything changes.
 */
import { GpmError, Exit } from "../../util/errors.js";
import type { Logger } from "../../util/log.js";
import type { Installation } from "../../install/installation.js";
import { withLockedInstallation } from "../../cli/session.js";
import { isValidId, listManifests } from "../../store/manifest.js";
import { isValidPluginName } from "../flag.js";
import { listPlugins, setPluginEnabled } from "../plugins.js";
import { rollback } from "../../rollback/rollback.js";

/** An answer other than 200, with the one line to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Run a state-changing action under the installation lock (409 when another gpm holds it). */
async function underLock<T>(inst: Installation, log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withLockedInstallation(inst, log, `recovery serve: ${what}`, "write", () => fn());
  } catch (err) {
    if (err instanceof GpmError && err.code === Exit.LOCKED) throw new HttpError(409, `another gpm is running (${err.message}); try again when it has finished`);
    throw err;
  }
}

export async function rollbackAction(inst: Installation, log: Logger, form: URLSearchParams): Promise<string> {
  const id = form.get("manifest") ?? "";
  // Only the id of an existing manifest is accepted, compared as a string; it is never a path here.
  if (!isValidId(id) || !(await listManifests(inst)).some((m) => m.id === id)) throw new HttpError(400, "no such manifest");
  return underLock(inst, log, `rollback ${id}`, async () => {
    log.info({ manifest: id }, "recovery page: rollback requested");
    const r = await rollback(inst, id, { log });
    return `${r.direction === "redo" ? "Redo" : "Rollback"} with ${r.manifest.id} done: version ${r.live ?? "(unknown)"} is live. When the site works, run \`gpm recovery clear\`.`;
  });
}

export async function pluginAction(inst: Installation, log: Logger, form: URLSearchParams, enable: boolean): Promise<string> {
  const name = form.get("plugin") ?? "";
  if (!isValidPluginName(name) || !(await listPlugins(inst)).some((p) => p.name === name)) throw new HttpError(400, "no such plugin");
  return underLock(inst, log, `${enable ? "enable" : "disable"} plugin ${name}`, async () => {
    log.info({ plugin: name }, `recovery page: ${enable ? "enable" : "disable"} plugin`);
    const r = await setPluginEnabled(inst, name, enable);
    return `${r.plugin.name} is ${enable ? "enabled" : "disabled"} (${r.plugin.configFile}).`;
  });
}
