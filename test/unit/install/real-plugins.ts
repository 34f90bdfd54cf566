/** The real plugins of /work/shared/fixtures/real/plugins, unpacked into a site's user/plugins/ (read from there, never copied into lib/). */
import path from "node:path";
import { extractArchive } from "../../../lib/stage/extract.js";
import { silentLogger } from "../../../lib/util/log.js";
import { noProgress } from "../../../lib/util/progress.js";

export const REAL = "/work/shared/fixtures/real";

/** Unpack `plugins/<zip>.zip` (wrapped in its folder, e.g. `email/`) as `user/plugins/<as>`. */
export async function installRealPlugin(root: string, zip: "email-4.2.0" | "email-4.2.1" | "login-3.8.13", as: string): Promise<void> {
  await extractArchive(path.join(REAL, "plugins", `${zip}.zip`), path.join(root, "user", "plugins", as), {
    maxFiles: 100_000,
    maxUnpackedBytes: 1 << 30,
    progress: noProgress,
    log: silentLogger,
    workers: 0,
  });
}
