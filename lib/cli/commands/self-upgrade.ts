import type { Argv } from "yargs";
import { runCommand, type CommandResult } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { selfUpgrade, checkForUpdate, formatCheck } from "../../pipeline/self-upgrade.js";

interface Args extends GlobalOptions {
  version?: string;
  check?: boolean;
  dryRun?: boolean;
  force?: boolean;
  allowDowngrade?: boolean;
  ignoreCheck?: string[];
}

export function selfUpgradeCommand(y: Argv): Argv {
  return y.command(
    "self-upgrade",
    "upgrade the installation: preflight, stage, swap, smoke check, finalize",
    (b) =>
      b
        .option("version", { type: "string", describe: "target version (default: latest on the channel)" })
        .option("check", { type: "boolean", describe: "show installed vs available and the changelog; change nothing" })
        .option("dry-run", { type: "boolean", describe: "preflight + stage, then discard" })
        .option("force", { type: "boolean", describe: "proceed even when preflight checks fail" })
        .option("allow-downgrade", { type: "boolean", describe: "allow installing an older release" })
        .option("ignore-check", { type: "string", array: true, describe: "ignore a failing preflight check by id (repeatable)" }),
    (argv) => runCommand("self-upgrade", argv as Args, (ctx) => (argv.check ? check(ctx, argv as Args) : upgrade(ctx, argv as Args))),
  );
}

function check(ctx: Parameters<Parameters<typeof runCommand>[2]>[0], a: Args): Promise<CommandResult> {
  return withInstallation(ctx, "self-upgrade --check", "read", async ({ inst }) => {
    const r = await checkForUpdate(inst, { version: a.version, log: ctx.log });
    return {
      data: { action: "check", ...r },
      lines: [
        `installed ${r.installed}, available ${r.latest}${r.updateAvailable ? "" : " (up to date)"}`,
        ...r.releases.flatMap((x) => [``, `## ${x.version}${x.date ? ` (${x.date})` : ""}${x.channel !== "stable" ? ` [${x.channel}]` : ""}`, x.changelog.trim()]),
      ],
    };
  });
}

function upgrade(ctx: Parameters<Parameters<typeof runCommand>[2]>[0], a: Args): Promise<CommandResult> {
  return withInstallation(ctx, "self-upgrade", "write", async ({ inst, recovered }) => {
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
        lines: [...r.checks.map(formatCheck), `dry run: ${r.installed} → ${r.target} staged (${r.files.count} files, core: ${r.core.join(" ")}) and discarded; nothing changed`],
      };
    }
    const m = r.manifest;
    return {
      data: { action: r.action, installed: r.installed, target: r.target, id: m.id, downtimeMs: m.downtimeMs, manifest: m, checks: r.checks, ...repaired },
      lines: [`upgraded ${r.installed} → ${m.to} (snapshot ${m.id}, downtime ${m.downtimeMs} ms maintenance on → off, smoke check included); undo with: gpm rollback ${m.id}`],
    };
  });
}
