/**
 * The release feed (SPEC section 3): where it is read from, its two shapes
 * (native `{"releases": [...]}` and the GitHub Releases API array), and which
 * release an upgrade targets. Every release comes out normalized as a
 * `Release` with an absolute http(s)/file URL.
 *
 * A release without a sha256 is kept in the list with `sha256: ""` so that
 * `--check` can still show it and its changelog; it is refused (exit 6) the
 * moment it is selected for installation (selectRelease), and stageRelease
 * refuses it again. Everything else wrong with a feed refuses the whole feed.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import semver from "semver";
import { z } from "zod";
import { errnoCode, fail, integrity, type GpmError } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import type { Release } from "./types.js";
import { httpGet, type HttpDeadlines } from "./http.js";

/** A feed (or SHA256SUMS file) larger than this is not a feed. */
const MAX_FEED_BYTES = 32 * 1024 * 1024;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const FEED_HINT = "check the feed URL in gpm.json or --feed";
/** For a feed that was read but says something wrong. */
const CONTENT_HINT = "the feed is malformed: fix it, or tell its publisher";

const nativeRelease = z.object({
  version: z.string().min(1),
  url: z.string().min(1),
  sha256: z.string().regex(SHA256_HEX, "expected 64 hex digits").nullable().optional(),
  size: z.number().int().nonnegative().nullable().optional(),
  date: z.string().nullable().optional(),
  channel: z.enum(["stable", "testing"]).optional(),
  changelog: z.string().nullable().optional(),
  requires: z
    .object({ php: z.string().optional(), node: z.string().optional(), extensions: z.array(z.string()).optional() })
    .nullable()
    .optional(),
  conflicts: z
    .array(z.object({ package: z.string().min(1), versions: z.string().min(1), message: z.string().optional() }))
    .nullable()
    .optional(),
  signature: z.string().min(1).nullable().optional(),
});

const githubAsset = z.object({
  name: z.string(),
  browser_download_url: z.string().min(1),
  size: z.number().int().nonnegative().optional(),
  digest: z.string().nullable().optional(),
});
const githubRelease = z.object({
  tag_name: z.string().min(1),
  body: z.string().nullable().optional(),
  prerelease: z.boolean().optional(),
  draft: z.boolean().optional(),
  published_at: z.string().nullable().optional(),
  assets: z.array(githubAsset).default([]),
});

interface FeedSource {
  /** What the user wrote (for messages). */
  display: string;
  /** Absolute URL: relative release URLs resolve against it. */
  url: URL;
  remote: boolean;
}

export interface LoadFeedOptions {
  log: Logger;
  /** A plain-path feed is relative to this folder (default: the current directory). */
  baseDir?: string;
  /** limits.feedTimeoutSec / stallTimeoutSec (lib/stage/http.ts httpDeadlines). */
  deadlines?: HttpDeadlines;
}

/** Read the feed and return its releases, newest first (semver order). */
export async function loadFeed(feed: string | null, opts: LoadFeedOptions): Promise<Release[]> {
  if (feed === null || feed.trim() === "") throw fail("no feed configured — set feed in gpm.json or pass --feed");
  const source = feedSource(feed, opts.baseDir ?? process.cwd());
  const text = await readText(source.url, `feed ${source.display}`, opts.deadlines);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw fail(`feed ${source.display} is not valid JSON`, FEED_HINT);
  }
  let releases: Release[];
  if (Array.isArray(raw)) releases = await readGithubFeed(raw, source, opts.log);
  else if (typeof raw === "object" && raw !== null && Array.isArray((raw as { releases?: unknown }).releases)) {
    releases = readNativeFeed((raw as { releases: unknown[] }).releases, source);
  } else {
    throw fail(`feed ${source.display}: expected {"releases": [...]} or a GitHub releases array`, FEED_HINT);
  }
  const seen = new Set<string>();
  for (const r of releases) {
    if (seen.has(r.version)) throw fail(`feed ${source.display} lists version ${r.version} twice`, CONTENT_HINT);
    seen.add(r.version);
  }
  opts.log.debug({ feed: source.display, releases: releases.length }, "feed read");
  return releases.sort((a, b) => semver.rcompare(a.version, b.version));
}

function feedSource(feed: string, baseDir: string): FeedSource {
  if (/^https?:\/\//i.test(feed)) {
    let url: URL;
    try {
      url = new URL(feed);
    } catch {
      throw fail(`feed ${feed} is not a valid URL`, FEED_HINT);
    }
    return { display: feed, url, remote: true };
  }
  if (/^file:/i.test(feed)) {
    let url: URL;
    try {
      url = new URL(feed);
      fileURLToPath(url);
    } catch {
      throw fail(`feed ${feed} is not a valid file URL`, FEED_HINT);
    }
    return { display: feed, url, remote: false };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(feed)) throw fail(`feed ${feed}: only http(s)://, file:// or a path are supported`, FEED_HINT);
  return { display: feed, url: pathToFileURL(path.resolve(baseDir, feed)), remote: false };
}

/** The text of an http(s) or file URL, at most MAX_FEED_BYTES. `what` starts every message. */
async function readText(url: URL, what: string, deadlines?: HttpDeadlines): Promise<string> {
  if (url.protocol === "file:") {
    const file = fileURLToPath(url);
    let st;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      throw fail(`${what} cannot be read: ${errnoCode(err) ?? err}`, FEED_HINT);
    }
    if (!st.isFile()) throw fail(`${what} is not a file`, FEED_HINT);
    if (st.size > MAX_FEED_BYTES) throw fail(`${what} is larger than ${MAX_FEED_BYTES} bytes`, FEED_HINT);
    try {
      return await fsp.readFile(file, "utf8");
    } catch (err) {
      throw fail(`${what} cannot be read: ${errnoCode(err) ?? err}`, FEED_HINT);
    }
  }
  const res = await httpGet(url.href, what, FEED_HINT, deadlines);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.chunks()) {
    size += chunk.byteLength;
    if (size > MAX_FEED_BYTES) {
      await res.cancel();
      throw fail(`${what} is larger than ${MAX_FEED_BYTES} bytes`, FEED_HINT);
    }
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts).toString("utf8");
}

/** `v1.8.0` → `1.8.0`; null when not a semver version. */
function cleanVersion(raw: string): string | null {
  const stripped = raw.trim().replace(/^[vV]/, "");
  return semver.valid(stripped);
}

/** A zod issue as one line: `field "sha256": is missing`. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.map(String).join(".") || "(the release itself)";
  const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
  const what = missing ? "is missing" : issue.message.replace(/^Invalid input: /, "");
  return `field "${field}": ${what}`;
}

function releaseLabel(raw: unknown, index: number, key: "version" | "tag_name"): string {
  const v = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[key] : undefined;
  return typeof v === "string" ? `release #${index + 1} (${v})` : `release #${index + 1}`;
}

/**
 * Resolve a release URL against the feed and apply the scheme rules
 * (invariant 7): only http(s) and file URLs, and a remote feed may only point
 * at http(s) — a file URL in a downloaded feed would make a remote document
 * read local files.
 */
function releaseUrl(raw: string, source: FeedSource, label: string): string {
  let url: URL;
  try {
    url = new URL(raw, source.url);
  } catch {
    throw fail(`feed ${source.display}: ${label}: field "url": not a valid URL`, CONTENT_HINT);
  }
  const ok = source.remote ? ["http:", "https:"] : ["http:", "https:", "file:"];
  if (!ok.includes(url.protocol)) {
    throw integrity(
      `unsafe release url in feed ${source.display}: ${label} points at ${url.protocol}//… (${source.remote ? "a remote feed may only use http(s)" : "only http(s) and file URLs are allowed"})`,
      "fix the feed, or use a feed you trust",
    );
  }
  return url.href;
}

function readNativeFeed(list: unknown[], source: FeedSource): Release[] {
  return list.map((raw, i) => {
    const label = releaseLabel(raw, i, "version");
    const parsed = nativeRelease.safeParse(raw);
    if (!parsed.success) throw fail(`feed ${source.display}: ${label}: ${describeIssue(parsed.error.issues[0]!)}`, CONTENT_HINT);
    const r = parsed.data;
    const version = cleanVersion(r.version);
    if (!version) throw fail(`feed ${source.display}: ${label}: field "version": "${r.version}" is not a semver version`, CONTENT_HINT);
    return {
      version,
      url: releaseUrl(r.url, source, label),
      sha256: (r.sha256 ?? "").toLowerCase(),
      size: r.size ?? null,
      date: r.date ?? null,
      channel: r.channel ?? "stable",
      changelog: r.changelog ?? "",
      requires: r.requires ?? {},
      conflicts: r.conflicts ?? [],
      signature: r.signature ?? null,
    };
  });
}

/**
 * GitHub Releases API: drafts are skipped (not published), as are releases
 * without a `.zip` asset (nothing to install). The hash comes from the asset's
 * `digest` or else from a `SHA256SUMS` asset, fetched here; when neither gives
 * one the release keeps `sha256: ""` and is refused if selected.
 */
async function readGithubFeed(list: unknown[], source: FeedSource, log: Logger): Promise<Release[]> {
  const out: Release[] = [];
  const sumsCache = new Map<string, Promise<Map<string, string> | null>>();
  for (const [i, raw] of list.entries()) {
    const label = releaseLabel(raw, i, "tag_name");
    const parsed = githubRelease.safeParse(raw);
    if (!parsed.success) throw fail(`feed ${source.display}: ${label}: ${describeIssue(parsed.error.issues[0]!)}`, CONTENT_HINT);
    const r = parsed.data;
    if (r.draft) continue;
    const version = cleanVersion(r.tag_name);
    if (!version) throw fail(`feed ${source.display}: ${label}: field "tag_name": "${r.tag_name}" is not a semver version`, CONTENT_HINT);
    const zip = r.assets.find((a) => a.name.toLowerCase().endsWith(".zip"));
    if (!zip) {
      log.debug({ version }, "GitHub release without a .zip asset: skipped");
      continue;
    }
    const url = releaseUrl(zip.browser_download_url, source, label);
    let sha256 = /^sha256:([0-9a-fA-F]{64})$/.exec(zip.digest ?? "")?.[1]?.toLowerCase() ?? "";
    if (!sha256) {
      const sumsAsset = r.assets.find((a) => /^sha256sums(\.txt)?$/i.test(a.name));
      if (sumsAsset) {
        const sumsUrl = releaseUrl(sumsAsset.browser_download_url, source, `${label} SHA256SUMS`);
        if (!sumsCache.has(sumsUrl)) sumsCache.set(sumsUrl, readSums(sumsUrl, log));
        sha256 = (await sumsCache.get(sumsUrl))?.get(zip.name) ?? "";
      }
    }
    out.push({
      version,
      url,
      sha256,
      size: zip.size ?? null,
      date: r.published_at ?? null,
      channel: r.prerelease ? "testing" : "stable",
      changelog: r.body ?? "",
      requires: {},
      conflicts: [],
      signature: null,
    });
  }
  return out;
}

/** `<hex>  <name>` lines (`*name` for binary mode, `./name` tolerated) → name → hex. Null when unreadable. */
async function readSums(url: string, log: Logger): Promise<Map<string, string> | null> {
  let text: string;
  try {
    text = await readText(new URL(url), `SHA256SUMS ${url}`);
  } catch (err) {
    log.warn({ url, err: (err as Error).message }, "SHA256SUMS could not be read; that release has no hash");
    return null;
  }
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(?:\.\/)?(.+?)\s*$/.exec(line);
    if (m) sums.set(m[2]!, m[1]!.toLowerCase());
  }
  return sums;
}

/**
 * A version as the user types it: `1.8.0`, `v1.8.0`, `grav@1.8.0`. Exit 1
 * when it is not a semver version.
 */
export function parseVersionArg(input: string): string {
  const at = input.lastIndexOf("@");
  const bare = at >= 0 ? input.slice(at + 1) : input;
  const v = cleanVersion(bare);
  if (!v) throw fail(`"${input}" is not a version`, "give a version such as 1.8.0 (or grav@1.8.0)");
  return v;
}

export interface SelectOptions {
  /** Wanted version (any form parseVersionArg reads); default: the newest on the channel. */
  version?: string | undefined;
  channel: "stable" | "testing";
  /**
   * Default true: refuse (exit 6) a release without a sha256. `--check` passes
   * false to show what is available without installing it.
   */
  requireSha256?: boolean;
}

/**
 * The release to install. The stable channel sees only stable releases, the
 * testing channel sees both. A version asked for by name is found on any
 * channel: naming it is the operator's explicit choice.
 */
export function selectRelease(releases: Release[], opts: SelectOptions): Release {
  let chosen: Release | undefined;
  if (opts.version !== undefined) {
    const want = parseVersionArg(opts.version);
    chosen = releases.find((r) => semver.eq(r.version, want));
    if (!chosen) {
      const sorted = [...releases].sort((a, b) => semver.rcompare(a.version, b.version)).map((r) => r.version);
      const shown = sorted.slice(0, 8).join(", ") + (sorted.length > 8 ? `, … (${sorted.length} in all)` : "");
      throw fail(`version ${want} is not in the feed; available: ${shown || "none"}`, "pick one of the available versions");
    }
  } else {
    const onChannel = releases.filter((r) => opts.channel === "testing" || r.channel === "stable");
    chosen = onChannel.sort((a, b) => semver.rcompare(a.version, b.version))[0];
    if (!chosen) throw fail(`the feed has no ${opts.channel} release`, opts.channel === "stable" ? 'set "channel": "testing" to see pre-releases' : FEED_HINT);
  }
  if ((opts.requireSha256 ?? true) && !chosen.sha256) throw missingSha256(chosen);
  return chosen;
}

export function missingSha256(r: Release): GpmError {
  return integrity(`release ${r.version} has no sha256 in the feed; refusing an archive that cannot be verified`, "the feed must give a sha256 (or a GitHub digest / SHA256SUMS asset) for every release");
}

/**
 * Releases newer than `from` up to and including `to`, oldest first (the
 * changelog of `--check`). With `channel: "stable"`, pre-releases in between
 * are left out (the target itself is always included).
 */
export function releasesBetween(releases: Release[], from: string | null, to: string, opts: { channel?: "stable" | "testing" } = {}): Release[] {
  return releases
    .filter((r) => (from === null || semver.gt(r.version, from)) && semver.lte(r.version, to))
    .filter((r) => opts.channel !== "stable" || r.channel === "stable" || semver.eq(r.version, to))
    .sort((a, b) => semver.compare(a.version, b.version));
}
