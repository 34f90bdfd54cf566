import { defineCommand } from "../spec.js";

export const statusCommand = defineCommand({
  name: "status",
  describe: "installed version, structure version, last upgrade, pending transaction, maintenance and recovery flags",
  mode: "read",
  examples: [["gpm status", "what is installed and whether anything is pending"], ["gpm status --json", "the same as one JSON document"]],
  exits: { 1: "not an installation, or its state is unreadable" },
  result: (z, s) => ({
    root: z.string(),
    installed: z.string().nullable(),
    structureVersion: z.number().int(),
    structureCurrent: z.number().int(),
    lastUpgrade: z.object({ id: z.string(), from: z.string().nullable(), to: z.string(), at: z.string().nullable(), status: z.string() }).nullable(),
    pendingTransaction: z.object({ kind: z.string(), manifestId: z.string(), phase: z.string(), pid: z.number(), createdAt: z.string() }).nullable(),
    lock: z.object({ pid: z.number(), host: z.string(), since: z.string(), command: z.string() }).nullable(),
    maintenance: z.record(z.string(), z.unknown()).nullable(),
    recovery: z.object({ reason: z.string(), createdAt: z.string(), manifest: z.string().nullable(), quarantined: z.array(z.string()) }).nullable(),
    recovered: z.array(s.repair),
  }),
  load: async () => {
    const [{ readStatus }, { requireInstallation }] = await Promise.all([import("../../pipeline/status.js"), import("../../install/installation.js")]);
    return async ({ session: { inst, recovered } }) => {
      // A folder that is not an installation says so (exit 1), never "installed (unknown)".
      await requireInstallation(inst);
      const s = await readStatus(inst);
      const lines = [
        `root            ${s.root}`,
        `installed       ${s.installed ?? "(unknown)"}`,
        `structure       ${s.structureVersion}${s.structureVersion < s.structureCurrent && s.structureVersion > 0 ? ` (current: ${s.structureCurrent}; run gpm migrate-installation)` : ""}`,
        `last upgrade    ${s.lastUpgrade ? `${s.lastUpgrade.from ?? "?"} → ${s.lastUpgrade.to} (${s.lastUpgrade.id}, ${s.lastUpgrade.status}${s.lastUpgrade.at ? `, ${s.lastUpgrade.at}` : ""})` : "none"}`,
        `pending         ${s.pendingTransaction ? `${s.pendingTransaction.kind} ${s.pendingTransaction.manifestId} (${s.pendingTransaction.phase}, pid ${s.pendingTransaction.pid})` : "none"}`,
        `maintenance     ${s.maintenance ? "ON" : "off"}`,
        `recovery mode   ${s.recovery ? `ON: ${s.recovery.reason}` : "off"}`,
        ...(s.lock ? [`lock            held by pid ${s.lock.pid} on ${s.lock.host} (${s.lock.command}) since ${s.lock.since}`] : []),
        ...(recovered ? [`repaired        ${recovered.summary}`] : []),
      ];
      return { data: { ...s, recovered: recovered?.actions ?? [] }, lines };
    };
  },
});
