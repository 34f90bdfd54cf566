import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { installedVersion } from "../../install/installation.js";
import { runPreflight } from "../../preflight/index.js";
import { resolveRelease } from "../../pipeline/resolve-release.js";
import { formatCheck } from "../../pipeline/self-upgrade.js";
import { Exit } from "../../util/errors.js";

export function preflightCommand(y: Argv): Argv {
  return y.command(
    "preflight [version]",
    "run every check of the upgrade to <version> (default: latest on the channel) without changing anything",
    (b) => b.positional("version", { type: "string", describe: "target version (1.8.0 or grav@1.8.0)" }),
    (argv) =>
      runCommand("preflight", argv as GlobalOptions, (ctx) =>
        withInstallation(ctx, "preflight", "read", async ({ inst }) => {
          const installed = await installedVersion(inst);
          const { release } = await resolveRelease(inst, argv.version as string | undefined, ctx.log);
          const checks = await runPreflight({ inst, release, log: ctx.log, installed });
          const failed = checks.filter((c) => c.status === "fail");
          const warned = checks.filter((c) => c.status === "warn");
          return {
            code: failed.length ? Exit.BLOCKED : Exit.OK,
            data: { installed, target: release.version, passed: failed.length === 0, checks },
            lines: [
              `preflight ${installed ?? "(unknown)"} → ${release.version}`,
              ...checks.map(formatCheck),
              failed.length ? `${failed.length} check(s) failed: ${failed.map((c) => c.id).join(", ")}` : `all checks passed${warned.length ? ` (${warned.length} warning(s))` : ""}`,
            ],
          };
        }),
      ),
  );
}
