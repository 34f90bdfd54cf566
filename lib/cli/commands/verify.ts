import { defineCommand } from "../spec.js";

export const verifyCommand = defineCommand({
  name: "verify",
  describe: "compare the live core files with the hashes of the tree gpm put live (after an upgrade, a rollback or a redo); list drift (exit 1 on drift)",
  mode: "read",
  examples: [["gpm verify", "re-hash the live core files"], ["gpm verify --json | jq '.drift'", "what differs"]],
  exits: { 1: "drift found, or nothing to verify against", 5: "another gpm is repairing" },
  result: (z) => ({ id: z.string(), version: z.string(), side: z.enum(["package", "previous"]), recordFrom: z.string(), checked: z.number().int(), drift: z.array(z.object({ kind: z.string(), path: z.string() })) }),
  load: async () => {
    const [{ requireInstalledVersion }, { liveRecord }, { verifyTree }, { fail, Exit }] = await Promise.all([
      import("../../install/installation.js"),
      import("../../store/live-record.js"),
      import("../../promote/verify-tree.js"),
      import("../../util/errors.js"),
    ]);
    return async ({ session: { inst } }) => {
      const installed = await requireInstalledVersion(inst);
      const found = await liveRecord(inst, installed);
      if (!found.live) throw fail(`nothing to verify ${installed} against: ${found.why}`, "verify works on a tree gpm put live (by self-upgrade, rollback or redo); see `gpm snapshots`");
      const r = found.live;
      const { checked, drift } = await verifyTree(inst, r.files, r.core);
      const what = `${r.manifest.id} (${r.version}, ${r.side === "package" ? "its package" : "the tree it rolled back to"}${r.recordFrom !== r.manifest.id ? `; hashes from ${r.recordFrom}` : ""})`;
      return {
        code: drift.length ? Exit.ERROR : Exit.OK,
        data: { id: r.manifest.id, version: r.version, side: r.side, recordFrom: r.recordFrom, checked, drift },
        lines: drift.length
          ? [...drift.map((d) => `${d.kind.padEnd(8)} ${d.path}`), `${drift.length} file(s) drifted from ${what}, ${checked} checked`]
          : [`${checked} core files match ${what}`],
      };
    };
  },
});
