import crypto from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { pass, warn, failed, type CheckResult, type PreflightInput } from "./types.js";
import { protectStateDir, removeEmptyStateDir, STATE_FILE_MODE } from "../web/state-dirs.js";
import { GPM_VERSION } from "../install/installation.js";

export const STATE_NOT_SERVED = "state-not-served";
const PROBE_TIMEOUT_MS = 10_000;
const RULES = "webserver/nginx-gpm.conf (nginx) or webserver/apache-gpm.conf (Apache; docs/WEB-SERVER.md)";

/**
 * With `siteUrl` set: ask the live site, from outside, for a random probe file
 * put in the snapshot store (and in `.gpm/`) — the one write preflight makes,
 * removed before the check returns. Served (2xx with the probe's bytes) is a
 * fail naming the rule to add; any other answer passes; no answer is a warn.
 */
export async function checkStateNotServed({ inst }: PreflightInput): Promise<CheckResult> {
  const site = inst.config.siteUrl;
  if (!site) return pass(STATE_NOT_SERVED, "siteUrl not set: not probed from outside (set siteUrl in gpm.json to check)");
  const dirs = [inst.paths.snapshots, inst.paths.gpmDir];
  const answers: string[] = [];
  for (const dir of dirs) {
    const existed = await fsp.stat(dir).then(() => true, () => false);
    if (!existed && dir === inst.paths.gpmDir) continue;
    const token = crypto.randomBytes(16).toString("hex");
    const name = `gpm-probe-${token}.json`;
    const file = path.join(dir, name);
    const relDir = path.relative(inst.root, dir).split(path.sep).join("/");
    const url = new URL(`${relDir.split("/").map(encodeURIComponent).join("/")}/${name}`, site.endsWith("/") ? site : `${site}/`).href;
    try {
      if (!existed) await protectStateDir(dir);
      await fsp.writeFile(file, JSON.stringify({ probe: token }), { mode: STATE_FILE_MODE, flag: "wx" });
      let res: Response;
      try {
        res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), headers: { "user-agent": `gpm/${GPM_VERSION} state-not-served probe` } });
      } catch (err) {
        return warn(STATE_NOT_SERVED, `could not ask ${url} whether gpm's state is served: ${(err as Error).message}`, `check siteUrl in gpm.json; the rules are in ${RULES}`);
      }
      const body = res.ok ? await res.text().catch(() => "") : (await res.body?.cancel().catch(() => undefined), "");
      if (res.ok && body.includes(token)) {
        return failed(STATE_NOT_SERVED, `${relDir}/ is served by the live site: GET ${url} answered ${res.status} with the probe file`, `add the deny rule for /${relDir}/ from ${RULES}, reload the web server, and run preflight again`);
      }
      answers.push(`/${relDir}/ ${res.status}`);
    } finally {
      await fsp.rm(file, { force: true });
      if (!existed) await removeEmptyStateDir(dir);
    }
  }
  return pass(STATE_NOT_SERVED, `gpm's state is not served by ${site} (${answers.join(", ")})`);
}
