import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { rollback } from "../../rollback/rollback.js";

export function rollbackCommand(y: Argv): Argv {
  return y.command(
    "rollback [manifest-id]",
    "swap the live tree with a stored snapshot (default: the newest not already swapped); the same id again is a redo",
    (b) => b.positional("manifest-id", { type: "string", describe: "snapshot id (see `gpm snapshots`)" }),
    (argv) =>
      runCommand("rollback", argv as GlobalOptions, (ctx) =>
        withInstallation(ctx, "rollback", "write", async ({ inst }) => {
          const r = await rollback(inst, argv.manifestId as string | undefined, { log: ctx.log });
          const verb = r.direction === "rollback" ? "rolled back" : "redid";
          return {
            data: { id: r.manifest.id, direction: r.direction, live: r.live, downtimeMs: r.downtimeMs, manifest: r.manifest },
            lines: [`${verb} ${r.manifest.id}: ${r.live} is live (downtime ${r.downtimeMs} ms); the other tree is kept in the snapshot — \`gpm rollback ${r.manifest.id}\` swaps back`],
          };
        }),
      ),
  );
}
