import path from "node:path";
import fsp from "node:fs/promises";
import { z } from "zod";
import { errnoCode, fail } from "../util/errors.js";
import { isInside } from "../util/fsx.js";

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
  versionPattern: z.string().min(1).default("GRAV_VERSION',\\s*'([^']+)'"),
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

/** Validate a parsed gpm.json; every problem names its key (exit 1). */
export function parseConfig(raw: unknown, root: string, source = "gpm.json"): Config {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = issue.code === "unrecognized_keys" ? (issue as { keys: string[] }).keys : [];
    const where = [...issue.path.map(String), ...keys].join(".") || "(top level)";
    const what = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
    throw fail(`${source}: ${where}: ${what}`, "fix the key in gpm.json (see docs/CONFIG.md)");
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
  if (cfg.publicKey !== null) {
    const key = Buffer.from(cfg.publicKey, "base64");
    if (!cfg.publicKey.includes("BEGIN PUBLIC KEY") && key.length !== 32) {
      throw fail(`${source}: publicKey: expected a base64 ed25519 public key (32 bytes) or a PEM`, "fix the key in gpm.json");
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
  try {
    new RegExp(cfg.versionPattern);
  } catch {
    throw fail(`${source}: versionPattern: not a valid regular expression`, "fix the key in gpm.json");
  }
  return cfg;
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
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT" && !configPath) return defaultConfig();
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
