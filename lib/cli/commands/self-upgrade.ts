import { defineCommand } from "../spec.js";
import type { FeedInfo } from "../../stage/feed-trust.js";
import type { ZodType } from "zod";

/** The feed's version and expiry (feed trust), when it carries them. */
function feedLine(f: FeedInfo): string[] {
  if (f.version === null && f.expires === null) return [];
  return [`feed version ${f.version ?? "(none)"}, expires ${f.expires ?? "(never)"}${f.trusted ? ", signature verified with feedKey" : ""}`];
}

export const selfUpgradeCommand = defineCommand({
  name: "self-upgrade",
  describe: "upgrade the installation: preflight, stage, swap, smoke check, finalize",
  options: {
    version: { type: "string", describe: "target version (default: latest on the channel)" },
    check: { type: "boolean", describe: "show installed vs available and the changelog; change nothing" },
    "dry-run": { type: "boolean", describe: "preflight + stage, then discard" },
    force: { type: "boolean", describe: "proceed even when preflight checks fail" },
    "allow-downgrade": { type: "boolean", describe: "allow installing an older release" },
    "ignore-check": { type: "string", array: true, describe: "ignore a failing preflight check by id (repeatable)" },
  },
  // --check only reads: it locks only to repair an interrupted run.
  mode: (a) => (a.check ? "read" : "write"),
  examples: [
    ["gpm self-upgrade --check", "is there a newer release? (changes nothing)"],
    ["gpm self-upgrade --dry-run", "preflight and stage it, list what would change, keep nothing"],
    ["gpm self-upgrade --yes --json", "upgrade from a script"],
  ],
  exits: {
    1: "error",
    2: "usage",
    3: "a preflight check or policy refused",
    4: "the smoke check failed; the old tree is back",
    5: "another gpm holds the lock",
    6: "download, signature or feed trust failed",
    7: "the restore failed too (recovery mode)",
  },
  result: (z, s) => {
    const recovered = { recovered: z.array(s.repair).optional() };
    const forms: Record<string, ZodType>[] = [
      {
        action: z.literal("check"),
        installed: z.string(),
        latest: z.string(),
        updateAvailable: z.boolean(),
        releases: z.array(z.object({ version: z.string(), date: z.string().nullable(), channel: z.string(), changelog: z.string() })),
        feed: z.object({ version: z.number().nullable(), expires: z.string().nullable(), trusted: z.boolean() }),
      },
      { action: z.literal("up-to-date"), installed: z.string(), ...recovered },
      {
        action: z.literal("dry-run"),
        installed: z.string(),
        target: z.string(),
        checks: z.array(s.check),
        files: z.object({ count: z.number().int(), bytes: z.number() }),
        core: z.array(z.string()),
        changes: z.object({ added: z.array(z.string()), replaced: z.array(z.string()), removed: z.array(z.string()) }),
        ...recovered,
      },
      { action: z.literal("upgraded"), installed: z.string(), target: z.string(), id: z.string(), downtimeMs: z.number().nullable(), swapMs: z.number().nullable(), manifest: s.manifest, checks: z.array(s.check), ...recovered },
    ];
    return forms;
  },
  load: async () => {
    const { selfUpgrade, checkForUpdate, formatCheck } = await import("../../pipeline/self-upgrade.js");
    return async ({ ctx, args: a, session: { inst, recovered } }) => {
      if (a.check) {
        const r = await checkForUpdate(inst, { version: a.version, log: ctx.log });
        return {
          data: { action: "check", ...r },
          lines: [
            `installed ${r.installed}, available ${r.latest}${r.asset ? ` (${r.asset})` : ""}${r.updateAvailable ? "" : " (up to date)"}`,
            ...feedLine(r.feed),
            ...r.releases.flatMap((x) => [``, `## ${x.version}${x.date ? ` (${x.date})` : ""}${x.channel !== "stable" ? ` [${x.channel}]` : ""}`, x.changelog.trim()]),
          ],
        };
      }
      const r = await selfUpgrade(inst, {
        version: a.version,
        dryRun: a.dryRun,
        force: a.force,
        allowDowngrade: a.allowDowngrade,
        ignoreCheck: a.ignoreCheck,
        log: ctx.log,
        progress: ctx.progress,
      });
      const repaired = recovered ? { recovered: recovered.actions } : {};
      if (r.action === "up-to-date") return { data: { action: r.action, installed: r.installed, ...repaired }, lines: [`${r.installed} is already installed; nothing to do`] };
      if (r.action === "dry-run") {
        return {
          data: { ...r, ...repaired },
          lines: [
            ...(ctx.quiet ? [] : r.checks.map(formatCheck)),
            ...([["added", "add"], ["replaced", "replace"], ["removed", "remove"]] as const).flatMap(([k, verb]) => r.changes[k].map((e) => `would ${verb.padEnd(7)}  ${e}`)),
            `dry run: ${r.installed} → ${r.target} staged (${r.files.count} files; ${r.changes.added.length} entries added, ${r.changes.replaced.length} replaced, ${r.changes.removed.length} removed) and discarded; nothing changed`,
          ],
        };
      }
      const m = r.manifest;
      return {
        changed: true,
        data: { action: r.action, installed: r.installed, target: r.target, id: m.id, downtimeMs: m.downtimeMs, swapMs: m.swapMs ?? null, manifest: m, checks: r.checks, ...repaired },
        lines: [`upgraded ${r.installed} → ${m.to} (snapshot ${m.id}, downtime ${m.downtimeMs} ms maintenance on → off, smoke check included; swap ${m.swapMs ?? "?"} ms the renames alone); undo with: gpm rollback ${m.id}`],
      };
    };
  },
});
