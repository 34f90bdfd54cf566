import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import type { Release } from "../stage/types.js";
import { loadFeed, selectRelease } from "../stage/feed.js";
import { feedTrust, type FeedInfo } from "../stage/feed-trust.js";

/**
 * Read the feed (checked by feed trust when `feedKey` is set) and pick the
 * release: `version` by name, else the newest on the configured channel.
 */
export async function resolveRelease(inst: Installation, version: string | undefined, log: Logger, requireSha256 = true): Promise<{ releases: Release[]; release: Release; feed: FeedInfo }> {
  const trust = feedTrust({ feedKey: inst.config.feedKey, stateFile: inst.paths.feedState, log });
  const releases = await loadFeed(inst.config.feed, { log, verify: trust.verify });
  const release = selectRelease(releases, { version, channel: inst.config.channel, requireSha256 });
  return { releases, release, feed: trust.info };
}
