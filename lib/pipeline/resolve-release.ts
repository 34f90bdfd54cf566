import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import type { Release } from "../stage/types.js";
import { loadFeed, selectRelease } from "../stage/feed.js";
import { httpDeadlines } from "../stage/http.js";

/** Read the feed and pick the release: `version` by name, else the newest on the configured channel. */
export async function resolveRelease(inst: Installation, version: string | undefined, log: Logger, requireSha256 = true): Promise<{ releases: Release[]; release: Release }> {
  const releases = await loadFeed(inst.config.feed, { log, deadlines: httpDeadlines(inst.config.limits, "feed") });
  const release = selectRelease(releases, { version, channel: inst.config.channel, requireSha256 });
  return { releases, release };
}
