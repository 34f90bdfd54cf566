import type { Argv } from "yargs";
import { runCommand } from "../run.js";
import type { GlobalOptions } from "../context.js";
import { withInstallation } from "../session.js";
import { listSnapshots } from "../../pipeline/status.js";

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

export function snapshotsCommand(y: Argv): Argv {
  return y.command(
    "snapshots",
    "list manifests: id, kind, from → to, date, status, size",
    (b) => b,
    (argv) =>
      runCommand("snapshots", argv as GlobalOptions, (ctx) =>
        withInstallation(ctx, "snapshots", "read", async ({ inst }) => {
          const rows = await listSnapshots(inst);
          const lines = rows.length
            ? rows.map((r) => `${r.id.padEnd(34)} ${r.kind.padEnd(8)} ${`${r.from ?? "?"} → ${r.to}`.padEnd(18)} ${r.date.padEnd(25)} ${r.status.padEnd(10)} ${mb(r.size)}`)
            : ["no snapshots"];
          return { data: { snapshots: rows }, lines };
        }),
      ),
  );
}
