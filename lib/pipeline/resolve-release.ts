import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import type { Release } from "../stage/types.js";
import { loadFeed, selectRelease } from "../stage/feed.js";
import { httpDeadlines } from "../stage/http.js";
import { versioning } from "../util/version.js";
import { feedTrust, type FeedInfo } from "../stage/feed-trust.js";

/**
 * Read the feed (checked by feed trust when `feedKey` is set) and pick the
 * release: `version` by name, else the newest on the configured channel,
 * ordered by versionScheme; GitHub feeds give the asset matching assetPattern.
 */
export async function resolveRelease(inst: Installation, version: string | undefined, log: Logger, requireSha256 = true): Promise<{ releases: Release[]; release: Release; feed: FeedInfo }> {
  const trust = feedTrust({ feedKey: inst.config.feedKey, stateFile: inst.paths.feedState, log });
  const versions = versioning(inst.config.versionScheme);
  const releases = await loadFeed(inst.config.feed, { log, verify: trust.verify, versions, assetPattern: inst.config.assetPattern, deadlines: httpDeadlines(inst.config.limits, "feed") });
  const release = selectRelease(releases, { version, channel: inst.config.channel, requireSha256, versions });
  return { releases, release, feed: trust.info };
}
