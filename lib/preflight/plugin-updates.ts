import { parseConstraint, satisfies } from "./composer-constraint.js";
import { readPlugins } from "../install/plugins.js";
import { readFeedLikeText } from "../stage/feed.js";
import { httpDeadlines } from "../stage/http.js";
import { pass, warn, type CheckResult, type PreflightInput } from "./types.js";
import { errorMessage } from "../util/errors.js";
import { versioning } from "../util/version.js";

export const PLUGIN_UPDATES = "plugin-updates";

interface IndexEntry {
  version: string;
  grav: string | null;
}

/** Grav's GPM index (`getgrav.org/downloads/plugins.json`): `{"<slug>": {"version", "dependencies": [{name, version}]}}`. */
function readIndex(text: string): Map<string, IndexEntry> {
  const raw = JSON.parse(text) as unknown;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error('expected {"<slug>": {"version": …}}');
  const out = new Map<string, IndexEntry>();
  for (const [slug, e] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof e !== "object" || e === null) continue;
    const { version, dependencies } = e as { version?: unknown; dependencies?: unknown };
    if (typeof version !== "string") continue;
    const dep = Array.isArray(dependencies) ? dependencies.find((d) => typeof d === "object" && d !== null && (d as { name?: unknown }).name === "grav") : undefined;
    const grav = typeof (dep as { version?: unknown } | undefined)?.version === "string" ? (dep as { version: string }).version : null;
    out.set(slug.toLowerCase(), { version, grav });
  }
  return out;
}

/**
 * Pending plugin updates (config `packagesFeed`): a warning for each
 * installed plugin/theme whose index entry is newer than the installed
 * version and whose own `grav` dependency admits the target — the update to
 * take before (or with) the upgrade. Never a failure: the site runs without it.
 */
export async function checkPluginUpdates({ inst, release }: PreflightInput): Promise<CheckResult> {
  const feed = inst.config.packagesFeed;
  if (!feed) return pass(PLUGIN_UPDATES, "no packagesFeed configured");
  let index: Map<string, IndexEntry>;
  try {
    index = readIndex(await readFeedLikeText(feed, `packagesFeed ${feed}`, inst.root, httpDeadlines(inst.config.limits, "feed")));
  } catch (err) {
    return warn(PLUGIN_UPDATES, `cannot read packagesFeed ${feed}: ${errorMessage(err)}`, "fix packagesFeed in gpm.json, or check the plugins by hand");
  }
  const v = versioning("php");
  const pending: string[] = [];
  const plugins = await readPlugins(inst);
  for (const p of plugins) {
    const e = index.get(p.name.toLowerCase());
    if (!e || !p.version || v.compare(e.version.replace(/^v/i, ""), p.version.replace(/^v/i, "")) <= 0) continue;
    let fits: boolean;
    try {
      fits = e.grav === null || satisfies(release.version, parseConstraint(e.grav));
    } catch {
      fits = true; // an index constraint gpm cannot read: still worth telling
    }
    if (fits) pending.push(`${p.rel} ${p.version} → ${e.version}`);
  }
  if (pending.length === 0) return pass(PLUGIN_UPDATES, `${plugins.length} plugin${plugins.length === 1 ? "" : "s"}/themes are on their latest release compatible with ${release.version}`);
  return warn(PLUGIN_UPDATES, `${pending.length} plugin/theme update${pending.length === 1 ? "" : "s"} compatible with ${release.version}: ${pending.join("; ")}`, "update them (bin/gpm update) before or right after the upgrade");
}
