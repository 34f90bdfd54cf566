import { defineCommand } from "../spec.js";

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

export const snapshotsCommand = defineCommand({
  name: "snapshots",
  describe: "list manifests: id, kind, from → to, date, status, size",
  mode: "read",
  examples: [["gpm snapshots", "list them; * marks the one whose tree is live"], ["gpm snapshots --json | jq '.snapshots[].id'", "ids for a script"]],
  exits: { 1: "error (not an installation, unreadable state)" },
  result: (z) => ({
    snapshots: z.array(
      z.object({ id: z.string(), kind: z.string(), from: z.string().nullable(), to: z.string(), date: z.string(), status: z.string(), size: z.number(), downtimeMs: z.number().nullable() }),
    ),
  }),
  load: async () => {
    const { listSnapshots } = await import("../../pipeline/status.js");
    return async ({ session: { inst } }) => {
      const rows = await listSnapshots(inst);
      const lines = rows.length
        ? rows.map((r) => `${r.id.padEnd(34)} ${r.kind.padEnd(8)} ${`${r.from ?? "?"} → ${r.to}`.padEnd(18)} ${r.date.padEnd(25)} ${r.status.padEnd(10)} ${mb(r.size)}`)
        : ["no snapshots"];
      return { data: { snapshots: rows }, lines };
    };
  },
});
