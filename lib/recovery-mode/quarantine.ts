/**
 * A quarantine survives a rollback (SPEC section 8). A plugin disabled while
 * recovery mode is on is named in the flag's `quarantined`; its switch is in
 * user/config. A core-only rollback leaves user/ live, so the switch stays;
 * a rollback or redo with user/ brings back the snapshot's user/config, in
 * which the plugin may be enabled again. This disables each quarantined
 * plugin that came back enabled.
 */
import type { Installation } from "../install/installation.js";
import { readRecoveryFlag } from "./flag.js";
import { listPlugins, setPluginEnabled } from "./plugins.js";

/** Disable every installed quarantined plugin that is enabled; returns their names. */
export async function reapplyQuarantine(inst: Installation): Promise<string[]> {
  const quarantined = new Set((await readRecoveryFlag(inst))?.quarantined ?? []);
  const again: string[] = [];
  for (const p of await listPlugins(inst)) {
    if (!quarantined.has(p.name) || !p.enabled) continue;
    await setPluginEnabled(inst, p.name, false);
    again.push(p.name);
  }
  return again;
}
