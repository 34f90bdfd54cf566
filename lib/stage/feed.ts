/**
 * The release feed (SPEC section 3): where it is read from, its two shapes
 * (native `{"releases": [...]}` and the GitHub Releases API array), and which
 * release an upgrade targets. Every release comes out normalized as a
 * `Release` with an absolute http(s)/file URL.
 *
 * A release without a sha256 is kept in the list with `sha256: ""` so that
 * `--check` can still show it and its changelog; it is refused (exit 6) the
 * moment it is selected for installation (selectRelease), and stageRelease
 * refuses it again. A release whose version does not parse under the
 * versionScheme (or, on GitHub, that has no asset matching assetPattern) is
 * skipped with one warning naming it. Everything else wrong with a feed
 * refuses the whole feed.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import { errnoCode, fail, integrity } from "../util/errors.js";
import type { Logger } from "../util/log.js";
import { versioning, type Versioning } from "../util/version.js";
import type { Release } from "./types.js";
import { httpGet, type HttpDeadlines } from "./http.js";
import { readGithubFeed } from "./feed-github.js";

export { parseVersionArg, selectRelease, missingSha256, releasesBetween, type SelectOptions } from "./feed-select.js";

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
  /** How versions are read and ordered (config versionScheme); default php. */
  versions?: Versioning;
  /** GitHub feeds: the asset that is the release (config assetPattern); default Grav's. */
  assetPattern?: string;
  /**
   * Called with the feed's exact bytes and parsed document before any release
   * is read: feed trust (lib/stage/feed-trust.ts) hooks in here.
   */
  verify?: (feed: FetchedFeed) => Promise<void>;
  /** limits.feedTimeoutSec / stallTimeoutSec (lib/stage/http.ts httpDeadlines). */
  deadlines?: HttpDeadlines;
}

export interface FetchedFeed {
  bytes: Buffer;
  doc: unknown;
  url: URL;
  display: string;
  /** The feed's deadlines: what is read beside it (its signature) gets the same. */
  deadlines?: HttpDeadlines | undefined;
}

export const GRAV_ASSET_PATTERN = "^grav-update-v?[0-9].*\\.zip$";

/** Read the feed and return its releases, newest first (in the versionScheme's order). */
export async function loadFeed(feed: string | null, opts: LoadFeedOptions): Promise<Release[]> {
  if (feed === null || feed.trim() === "") throw fail("no feed configured — set feed in gpm.json or pass --feed");
  const source = feedSource(feed, opts.baseDir ?? process.cwd());
  const bytes = await readBytes(source.url, `feed ${source.display}`, MAX_FEED_BYTES, opts.deadlines);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw fail(`feed ${source.display} is not valid JSON`, FEED_HINT);
  }
  await opts.verify?.({ bytes, doc: raw, url: source.url, display: source.display, deadlines: opts.deadlines });
  const versions = opts.versions ?? versioning();
  let releases: Release[];
  if (Array.isArray(raw)) {
    releases = await readGithubFeed(raw, {
      display: source.display,
      log: opts.log,
      versions,
      assetPattern: new RegExp(opts.assetPattern ?? GRAV_ASSET_PATTERN),
      contentHint: CONTENT_HINT,
      label: (r, i) => releaseLabel(r, i, "tag_name"),
      describeIssue,
      releaseUrl: (u, label) => releaseUrl(u, source, label),
      readText: (url: URL, what: string) => readText(url, what, opts.deadlines),
    });
  } else if (typeof raw === "object" && raw !== null && Array.isArray((raw as { releases?: unknown }).releases)) {
    releases = readNativeFeed((raw as { releases: unknown[] }).releases, source, versions, opts.log);
  } else {
    throw fail(`feed ${source.display}: expected {"releases": [...]} or a GitHub releases array`, FEED_HINT);
  }
  const seen = new Set<string>();
  for (const r of releases) {
    if (seen.has(r.version)) throw fail(`feed ${source.display} lists version ${r.version} twice`, CONTENT_HINT);
    seen.add(r.version);
  }
  opts.log.debug({ feed: source.display, releases: releases.length }, "feed read");
  return versions.sortDesc(releases, (r) => r.version);
}

/**
 * The text of another document read like the feed (an http(s) URL, a file URL
 * or a path relative to `baseDir`; same size cap and deadlines): the
 * `packagesFeed` plugin index.
 */
export async function readFeedLikeText(spec: string, what: string, baseDir: string, deadlines?: HttpDeadlines): Promise<string> {
  return readText(feedSource(spec, baseDir).url, what, deadlines);
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

async function readText(url: URL, what: string, deadlines?: HttpDeadlines): Promise<string> {
  return (await readBytes(url, what, MAX_FEED_BYTES, deadlines)).toString("utf8");
}

/** The bytes of an http(s) or file URL, at most `max` (MAX_FEED_BYTES), within `deadlines` (limits.feedTimeoutSec/stallTimeoutSec). `what` starts every message. */
export async function readBytes(url: URL, what: string, max = MAX_FEED_BYTES, deadlines?: HttpDeadlines): Promise<Buffer> {
  if (url.protocol === "file:") {
    const file = fileURLToPath(url);
    let st;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      throw fail(`${what} cannot be read: ${errnoCode(err) ?? err}`, FEED_HINT);
    }
    if (!st.isFile()) throw fail(`${what} is not a file`, FEED_HINT);
    if (st.size > max) throw fail(`${what} is larger than ${max} bytes`, FEED_HINT);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      throw fail(`${what} cannot be read: ${errnoCode(err) ?? err}`, FEED_HINT);
    }
  }
  const res = await httpGet(url.href, what, FEED_HINT, deadlines);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.chunks()) {
    size += chunk.byteLength;
    if (size > max) {
      await res.cancel();
      throw fail(`${what} is larger than ${max} bytes`, FEED_HINT);
    }
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
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

/** The last path segment of a URL, decoded when it can be. */
function fileName(url: string): string | null {
  const last = new URL(url).pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(last) || null;
  } catch {
    return last || null;
  }
}

function readNativeFeed(list: unknown[], source: FeedSource, versions: Versioning, log: Logger): Release[] {
  return list.flatMap((raw, i): Release[] => {
    const label = releaseLabel(raw, i, "version");
    const parsed = nativeRelease.safeParse(raw);
    if (!parsed.success) throw fail(`feed ${source.display}: ${label}: ${describeIssue(parsed.error.issues[0]!)}`, CONTENT_HINT);
    const r = parsed.data;
    const version = versions.clean(r.version);
    if (!version) {
      log.warn({ version: r.version }, `feed ${source.display}: ${label}: "${r.version}" is not a ${versions.scheme} version; release skipped`);
      return [];
    }
    const url = releaseUrl(r.url, source, label);
    return [{
      version,
      url,
      asset: fileName(url),
      sha256: (r.sha256 ?? "").toLowerCase(),
      size: r.size ?? null,
      date: r.date ?? null,
      channel: r.channel ?? "stable",
      changelog: r.changelog ?? "",
      requires: r.requires ?? {},
      conflicts: r.conflicts ?? [],
      signature: r.signature ?? null,
    }];
  });
}

