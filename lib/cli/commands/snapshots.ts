import { defineCommand } from "../spec.js";
import type { Session } from "../session.js";

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
const ID = { id: { type: "string", demandOption: true, describe: "snapshot id (see `gpm snapshots`)" } } as const;

/** `gpm snapshots [pin ID | unpin ID]` (SPEC section 4). */
export const snapshotsCommand = defineCommand({
  name: "snapshots",
  describe: "list manifests: id, kind, from → to, date, status, size, pinned, and which one the live tree came from; pin ID | unpin ID",
  mode: "read",
  subcommands: [
    defineCommand({
      name: "pin",
      describe: "keep a snapshot from retention",
      positionals: ID,
      mode: "write",
      result: (z) => ({ id: z.string(), pinned: z.boolean() }),
      load: async () => async ({ args, session }) => pin(session, args.id, true),
    }),
    defineCommand({
      name: "unpin",
      describe: "let retention prune a snapshot again (it still never prunes the way back from the live tree)",
      positionals: ID,
      mode: "write",
      result: (z) => ({ id: z.string(), pinned: z.boolean() }),
      load: async () => async ({ args, session }) => pin(session, args.id, false),
    }),
  ],
  examples: [["gpm snapshots", "list them; * marks the one whose tree is live"], ["gpm snapshots --json | jq '.snapshots[].id'", "ids for a script"]],
  exits: { 1: "error (not an installation, unreadable state)" },
  result: (z) => ({
    snapshots: z.array(
      z.object({ id: z.string(), kind: z.string(), from: z.string().nullable(), to: z.string(), date: z.string(), status: z.string(), size: z.number(), downtimeMs: z.number().nullable(), pinned: z.boolean(), liveSource: z.boolean() }),
    ),
    liveSource: z.string().nullable(),
  }),
  load: async () => {
    const { listSnapshots } = await import("../../pipeline/status.js");
    return async ({ session: { inst } }) => {
      const rows = await listSnapshots(inst);
      const source = rows.find((r) => r.liveSource);
      const lines = rows.length
        ? rows.map(
            (r) =>
              `${r.liveSource ? "*" : " "} ${r.id.padEnd(34)} ${r.kind.padEnd(8)} ${`${r.from ?? "?"} → ${r.to}`.padEnd(18)} ${r.date.padEnd(25)} ${r.status.padEnd(10)} ${mb(r.size).padStart(9)}${r.pinned ? "  pinned" : ""}`,
          )
        : ["no snapshots"];
      if (source) lines.push(`* the live tree came from ${source.id}`);
      return { data: { snapshots: rows, liveSource: source?.id ?? null }, lines };
    };
  },
});

async function pin({ inst }: Session, id: string, pinned: boolean) {
  const { setPinned } = await import("../../store/way-back.js");
  const r = await setPinned(inst, id, pinned);
  const word = pinned ? "pinned" : "unpinned";
  return {
    changed: r.changed,
    data: { id: r.manifest.id, pinned: r.manifest.pinned === true },
    lines: [r.changed ? `${word} ${r.manifest.id}` : `${r.manifest.id} was already ${word}; nothing changed`],
  };
}
