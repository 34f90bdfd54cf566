/**
 * Every command gpm has (`gpm --help` lists them by name). Adding a
 * command: write lib/cli/commands/<name>.ts exporting `defineCommand({...})`
 * (see ../spec.ts), then add its one line here.
 */
export { preflightCommand } from "./preflight.js";
export { selfUpgradeCommand } from "./self-upgrade.js";
export { rollbackCommand } from "./rollback.js";
export { snapshotsCommand } from "./snapshots.js";
export { verifyCommand } from "./verify.js";
export { statusCommand } from "./status.js";
export { repairCommand } from "./repair.js";
export { recoveryCommand } from "./recovery.js";
export { migrateInstallationCommand } from "./migrate-installation.js";
export { versionCommand } from "./version.js";
