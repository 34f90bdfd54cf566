import assert from "node:assert/strict";
import crypto from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { tmpDir } from "../../helpers/fixtures.js";
import { openInstallation, type Installation } from "../../../lib/install/installation.js";
import { GpmError, Exit } from "../../../lib/util/errors.js";
import { issueToken, verifyToken, parseTtl, loadRecoveryKey, MAX_TTL_MS } from "../../../lib/recovery-mode/token.js";
import { captureLog } from "./fixtures.js";

async function freshInstallation(): Promise<Installation> {
  return openInstallation({ root: await tmpDir() });
}

describe("recovery token", () => {
  it("verifies a token it issued, within its lifetime", async () => {
    const inst = await freshInstallation();
    const { token, expiresAt } = await issueToken(inst, 60_000);
    assert.equal(await verifyToken(inst, token), true);
    assert.ok(expiresAt.getTime() > Date.now() && expiresAt.getTime() <= Date.now() + 60_000);
  });

  it("refuses an expired token", async () => {
    const inst = await freshInstallation();
    const { token, expiresAt } = await issueToken(inst, 60_000);
    assert.equal(await verifyToken(inst, token, { now: expiresAt.getTime() }), false);
    assert.equal(await verifyToken(inst, token, { now: expiresAt.getTime() - 1 }), true);
  });

  it("refuses a token whose payload or MAC was changed", async () => {
    const inst = await freshInstallation();
    const { token } = await issueToken(inst, 60_000);
    const [payload, mac] = token.split(".") as [string, string];
    const longer = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), exp: Date.now() + 86_400_000 })).toString("base64url");
    assert.equal(await verifyToken(inst, `${longer}.${mac}`), false, "extended expiry");
    const flipped = Buffer.from(mac, "base64url");
    flipped[flipped.length - 1]! ^= 1;
    assert.equal(await verifyToken(inst, `${payload}.${flipped.toString("base64url")}`), false, "one bit of the MAC");
    assert.equal(await verifyToken(inst, `${payload}.${mac.slice(0, 10)}`), false, "short MAC");
    for (const bad of ["", ".", "abc", `${payload}.${mac}.x`, `${payload}.${mac}=`, "x".repeat(10_000), 42, null]) {
      assert.equal(await verifyToken(inst, bad), false, `malformed ${String(bad).slice(0, 20)}`);
    }
  });

  it("refuses a token signed with another key, and every token once the key is gone", async () => {
    const inst = await freshInstallation();
    const { token } = await issueToken(inst, 60_000);
    await fsp.writeFile(inst.paths.recoveryKey, crypto.randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    assert.equal(await verifyToken(inst, token), false);
    await fsp.rm(inst.paths.recoveryKey);
    assert.equal(await verifyToken(inst, token), false);
    await assert.rejects(fsp.access(inst.paths.recoveryKey), "verifying never creates a key");
  });

  it("compares MACs with crypto.timingSafeEqual, also when the given MAC has the wrong length", async () => {
    const inst = await freshInstallation();
    const { token } = await issueToken(inst, 60_000);
    const original = crypto.timingSafeEqual;
    const lengths: [number, number][] = [];
    crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      lengths.push([a.byteLength, b.byteLength]);
      return original(a, b);
    }) as typeof crypto.timingSafeEqual;
    try {
      assert.equal(await verifyToken(inst, token), true);
      assert.equal(await verifyToken(inst, `${token.split(".")[0]}.AAAA`), false);
    } finally {
      crypto.timingSafeEqual = original;
    }
    assert.deepEqual(lengths, [[32, 32], [32, 32]]);
  });

  it("creates .gpm/recovery.key with mode 0600 and 32 random bytes", async () => {
    const inst = await freshInstallation();
    await issueToken(inst, 60_000);
    const st = await fsp.stat(inst.paths.recoveryKey);
    assert.equal(st.mode & 0o777, 0o600);
    assert.match((await fsp.readFile(inst.paths.recoveryKey, "utf8")).trim(), /^[0-9a-f]{64}$/);
  });

  it("re-protects a key file that others can read, with a warning, and keeps using it", async () => {
    const inst = await freshInstallation();
    const { token } = await issueToken(inst, 60_000);
    await fsp.chmod(inst.paths.recoveryKey, 0o644);
    const { log, messages } = captureLog();
    assert.equal(await verifyToken(inst, token, { log }), true);
    assert.equal((await fsp.stat(inst.paths.recoveryKey)).mode & 0o777, 0o600);
    assert.ok(messages.some((m) => m.includes("readable by others")), messages.join("\n"));
  });

  it("refuses a key that is a link or malformed", async () => {
    const inst = await freshInstallation();
    await fsp.mkdir(inst.paths.gpmDir, { recursive: true });
    const elsewhere = path.join(await tmpDir(), "key");
    await fsp.writeFile(elsewhere, crypto.randomBytes(32).toString("hex"), { mode: 0o600 });
    await fsp.symlink(elsewhere, inst.paths.recoveryKey);
    await assert.rejects(issueToken(inst, 60_000), /not a regular file/);
    await fsp.rm(inst.paths.recoveryKey);
    await fsp.writeFile(inst.paths.recoveryKey, "short\n", { mode: 0o600 });
    await assert.rejects(loadRecoveryKey(inst, { create: true }), /malformed/);
    assert.equal(await fsp.readFile(inst.paths.recoveryKey, "utf8"), "short\n", "a malformed key is not replaced silently");
  });

  it("parses --ttl durations", () => {
    assert.equal(parseTtl("15m"), 900_000);
    assert.equal(parseTtl("900s"), 900_000);
    assert.equal(parseTtl("2h"), 7_200_000);
    assert.equal(parseTtl("30"), 30_000);
    assert.equal(parseTtl("24h"), MAX_TTL_MS);
  });

  it("refuses a bad --ttl as a usage error naming it", () => {
    for (const bad of ["", "abc", "0", "0m", "25h", "1441m", "-5m", "1.5h", "15 minutes", "15d"]) {
      assert.throws(
        () => parseTtl(bad),
        (err: unknown) => err instanceof GpmError && err.code === Exit.USAGE && err.message.includes("--ttl"),
        `ttl ${JSON.stringify(bad)}`,
      );
    }
  });
});
