import path from "node:path";
import { z } from "zod";
import { closest } from "../util/suggest.js";
import { GpmError, errnoCode, fail } from "../util/errors.js";
import { isInside, readRegularFile } from "../util/fsx.js";

/** A relative path that must stay inside the installation root (checked after parsing). */
const relPath = z.string().min(1);
const argv = z.array(z.string().min(1)).min(1);

/** The Grav default smoke check (SPEC section 2): PHP's built-in server on the promoted tree. */
export const PHP_SERVER_DEFAULT = { router: "system/router.php", path: "/", failPattern: "Fatal error|Parse error|Please run: <i>bin/grav install" };

const schema = z.strictObject({
  feed: z.string().min(1).nullable().default(null),
  channel: z.enum(["stable", "testing"]).default("stable"),
  preserve: z.array(relPath).default(["user", "backup", "cache", "images", "logs", "tmp", ".htaccess", "robots.txt"]),
  clearOnPromote: z.array(relPath).default(["cache"]),
  snapshotDir: relPath.default("snapshots"),
  keep: z.number().int().min(1).default(3),
  versionFile: relPath.default("system/defines.php"),
  // Both quote styles: Grav 1.x writes define('GRAV_VERSION', '1.7.48'); Grav 2.0 define("GRAV_VERSION", "2.0.0").
  versionPattern: z.string().min(1).default(`GRAV_VERSION['"],\\s*['"]([^'"]+)['"]`),
  postUpgrade: argv.nullable().default(null),
  smokeCheck: z
    .strictObject({
      command: argv.nullable().default(null),
      phpServer: z
        .strictObject({ router: relPath.default(PHP_SERVER_DEFAULT.router), path: z.string().startsWith("/").default(PHP_SERVER_DEFAULT.path), failPattern: z.string().nullable().default(PHP_SERVER_DEFAULT.failPattern) })
        .nullable()
        .default(null),
      timeoutSec: z.number().positive().default(60),
    })
    .nullable()
    .default({ command: null, phpServer: { ...PHP_SERVER_DEFAULT }, timeoutSec: 60 }),
  healthUrl: z.url({ protocol: /^https?$/ }).nullable().default(null),
  // Where the live site answers: preflight asks it for a probe file in the snapshot store (state-not-served).
  siteUrl: z.url({ protocol: /^https?$/ }).nullable().default(null),
  maintenanceFlag: relPath.default(".upgrading"),
  recoveryFlag: relPath.default("system/recovery.flag"),
  pluginDirs: z.array(relPath).default(["user/plugins", "user/themes"]),
  publicKey: z.string().min(1).nullable().default(null),
  // Issue 10 (Grav profile): version ordering, which GitHub asset is the release, the GPM plugin index.
  versionScheme: z.enum(["php", "semver"]).default("php"),
  assetPattern: z.string().min(1).default("^grav-update-v?[0-9].*\\.zip$"),
  packagesFeed: z.string().min(1).nullable().default(null),
  /** Feed trust (lib/stage/feed-trust.ts): the key the feed file's detached `.sig` must verify with. */
  feedKey: z.string().min(1).nullable().default(null),
  limits: z
    .strictObject({
      maxFiles: z.number().int().positive().default(200_000),
      maxUnpackedBytes: z.number().int().positive().default(2_147_483_648),
      maxDownloadBytes: z.number().int().positive().default(1_073_741_824),
      feedTimeoutSec: z.number().positive().default(60),
      stallTimeoutSec: z.number().positive().default(30),
    })
    .default({ maxFiles: 200_000, maxUnpackedBytes: 2_147_483_648, maxDownloadBytes: 1_073_741_824, feedTimeoutSec: 60, stallTimeoutSec: 30 }),
});

export type Config = z.infer<typeof schema>;

/** Keys whose values are paths below the root: checked so no config value can point outside it. */
const PATH_KEYS = ["snapshotDir", "versionFile", "maintenanceFlag", "recoveryFlag"] as const;
const PATH_LIST_KEYS = ["preserve", "clearOnPromote", "pluginDirs"] as const;

export function defaultConfig(): Config {
  return schema.parse({});
}

/** The keys the schema allows at `at` (top level, or an object key's), for "did you mean". */
function knownKeys(at: PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const k of at) {
    while (node && typeof node === "object" && "unwrap" in node && typeof node.unwrap === "function") node = (node.unwrap as () => unknown).call(node);
    node = (node as { shape?: Record<PropertyKey, unknown> }).shape?.[k];
  }
  while (node && typeof node === "object" && "unwrap" in node && typeof node.unwrap === "function") node = (node.unwrap as () => unknown).call(node);
  return Object.keys((node as { shape?: Record<string, unknown> } | undefined)?.shape ?? {});
}

/** Validate a parsed gpm.json; every problem names its key (exit 1). */
export function parseConfig(raw: unknown, root: string, source = "gpm.json"): Config {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = issue.code === "unrecognized_keys" ? (issue as { keys: string[] }).keys : [];
    const where = [...issue.path.map(String), ...keys].join(".") || "(top level)";
    const what = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
    const near = keys.length ? closest(keys[0]!, knownKeys(issue.path)) : null;
    throw fail(`${source}: ${where}: ${what}${near ? ` (did you mean "${near}"?)` : ""}`, "fix the key in gpm.json (see docs/CONFIG.md)");
  }
  const cfg = result.data;
  const checkPath = (key: string, value: string): void => {
    const full = path.resolve(root, value);
    if (path.isAbsolute(value) || value.includes("\0") || !isInside(root, full) || full === path.resolve(root)) {
      throw fail(`${source}: ${key}: "${value}" must be a relative path inside the root`, "fix the key in gpm.json");
    }
  };
  for (const k of PATH_KEYS) checkPath(k, cfg[k]);
  for (const k of PATH_LIST_KEYS) cfg[k].forEach((v, i) => checkPath(`${k}[${i}]`, v));
  checkPlacement(cfg, source);
  for (const name of ["publicKey", "feedKey"] as const) {
    const value = cfg[name];
    if (value !== null && !value.includes("BEGIN PUBLIC KEY") && Buffer.from(value, "base64").length !== 32) {
      throw fail(`${source}: ${name}: expected a base64 ed25519 public key (32 bytes) or a PEM`, "fix the key in gpm.json");
    }
  }
  // `{"timeoutSec": 30}` alone keeps the default check; `"phpServer": null` (or a command) replaces it.
  const rawSmoke = (raw as { smokeCheck?: unknown }).smokeCheck;
  if (cfg.smokeCheck && !cfg.smokeCheck.command && typeof rawSmoke === "object" && rawSmoke !== null && !("phpServer" in rawSmoke)) {
    cfg.smokeCheck.phpServer = { ...PHP_SERVER_DEFAULT };
  }
  if (cfg.smokeCheck?.phpServer) {
    checkPath("smokeCheck.phpServer.router", cfg.smokeCheck.phpServer.router);
    if (cfg.smokeCheck.command) throw fail(`${source}: smokeCheck: give either command or phpServer, not both`, "fix the key in gpm.json");
    const fp = cfg.smokeCheck.phpServer.failPattern;
    if (fp !== null && !isRegExp(fp)) throw fail(`${source}: smokeCheck.phpServer.failPattern: not a valid regular expression`, "fix the key in gpm.json");
  }
  for (const key of ["versionPattern", "assetPattern"] as const) {
    try {
      new RegExp(cfg[key]);
    } catch {
      throw fail(`${source}: ${key}: not a valid regular expression`, "fix the key in gpm.json");
    }
  }
  return cfg;
}

/**
 * Where things may be (SPEC section 2). `preserve` names top-level entries: an
 * upgrade swaps whole top-level entries, so `system/config` could only be
 * "preserved" by swapping system/ and leaving a half-upgraded tree. The
 * snapshot store must not lie inside a preserved entry or user/ (it would be
 * copied into every snapshot of user/, and a rollback with user/ would swap
 * it away), nor in `.gpm/` or a folder emptied at promote.
 */
function checkPlacement(cfg: Config, source: string): void {
  const segs = (p: string): string[] => p.split(/[\\/]+/).filter((x) => x !== "" && x !== ".");
  cfg.preserve.forEach((v, i) => {
    if (segs(v).length !== 1) {
      throw fail(`${source}: preserve[${i}]: "${v}" is not a top-level name`, "list top-level entries only (e.g. \"user\"; a path below one is preserved with it)");
    }
  });
  const snap = segs(cfg.snapshotDir);
  const holders = new Set(["user", ".gpm", ...cfg.preserve.map((p) => segs(p)[0]!)]);
  if (snap.length > 1 && holders.has(snap[0]!)) {
    throw fail(`${source}: snapshotDir: "${cfg.snapshotDir}" lies inside ${snap[0]}/, which gpm preserves or snapshots`, "put the snapshot store in its own top-level folder (default \"snapshots\")");
  }
  for (const c of cfg.clearOnPromote) {
    const cs = segs(c);
    if (cs.every((x, i) => snap[i] === x)) {
      throw fail(`${source}: snapshotDir: "${cfg.snapshotDir}" lies in "${c}", which clearOnPromote empties at every upgrade`, "put the snapshot store in its own top-level folder (default \"snapshots\")");
    }
  }
}

function isRegExp(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

/** Load `<root>/gpm.json` (or `configPath`); a missing file means all defaults. */
export async function loadConfig(root: string, configPath?: string): Promise<Config> {
  const file = configPath ? path.resolve(configPath) : path.join(root, "gpm.json");
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT" && !configPath) return defaultConfig();
    if (err instanceof GpmError) throw err; // a FIFO or folder: named by readRegularFile
    throw fail(`cannot read config ${file}: ${errnoCode(err) ?? err}`, "check the --config path");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`, "fix the syntax of gpm.json");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw fail(`${path.basename(file)}: the top level must be a JSON object`, "fix gpm.json");
  }
  return parseConfig(raw, root, path.basename(file));
}
