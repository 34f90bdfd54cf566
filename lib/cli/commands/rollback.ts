import { defineCommand } from "../spec.js";

export const rollbackCommand = defineCommand({
  name: "rollback",
  describe: "swap the live tree with a stored snapshot (default: the newest not already swapped); the same id again is a redo",
  positionals: { "manifest-id": { type: "string", describe: "snapshot id (see `gpm snapshots`)" } },
  mode: "write",
  examples: [
    ["gpm rollback", "put back the tree the last upgrade replaced"],
    ["gpm rollback 20251018T101500Z-1.8.0", "swap with that snapshot (again: redo)"],
  ],
  exits: { 1: "error", 2: "usage", 3: "no snapshot to roll back to", 5: "another gpm holds the lock", 7: "the swap and its undo failed (recovery mode)" },
  result: (z, s) => ({ id: z.string(), direction: z.enum(["rollback", "redo"]), live: z.string(), downtimeMs: z.number(), manifest: s.manifest }),
  load: async () => {
    const { rollback } = await import("../../rollback/rollback.js");
    return async ({ ctx, args, session: { inst } }) => {
      const r = await rollback(inst, args.manifestId, { log: ctx.log });
      const verb = r.direction === "rollback" ? "rolled back" : "redid";
      return {
        changed: true,
        data: { id: r.manifest.id, direction: r.direction, live: r.live, downtimeMs: r.downtimeMs, manifest: r.manifest },
        lines: [`${verb} ${r.manifest.id}: ${r.live} is live (downtime ${r.downtimeMs} ms); the other tree is kept in the snapshot — \`gpm rollback ${r.manifest.id}\` swaps back`],
      };
    };
  },
});
