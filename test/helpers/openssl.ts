/**
 * Feed-trust keys and signatures made the way a publisher makes them: with the
 * openssl command line (`genpkey -algorithm ed25519`, `pkeyutl -sign -rawin`),
 * so the tests prove gpm reads what the documented commands produce.
 */
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface FeedKeyPair {
  /** Private key (PEM) file. */
  privateKey: string;
  /** Public key as PEM text (a feedKey form). */
  publicPem: string;
  /** Public key as base64 of the raw 32 bytes (the other feedKey form). */
  publicBase64: string;
}

/** `openssl genpkey -algorithm ed25519` into `dir/<name>.pem`, and its public half in both forms. */
export async function makeFeedKey(dir: string, name = "feed-key"): Promise<FeedKeyPair> {
  await fsp.mkdir(dir, { recursive: true });
  const privateKey = path.join(dir, `${name}.pem`);
  await run("openssl", ["genpkey", "-algorithm", "ed25519", "-out", privateKey]);
  const { stdout: publicPem } = await run("openssl", ["pkey", "-in", privateKey, "-pubout"]);
  const der = (await run("openssl", ["pkey", "-in", privateKey, "-pubout", "-outform", "DER"], { encoding: "buffer" })).stdout as Buffer;
  // An ed25519 SPKI is a 12-byte header followed by the 32 raw key bytes.
  return { privateKey, publicPem, publicBase64: der.subarray(der.length - 32).toString("base64") };
}

/** `openssl pkeyutl -sign -rawin` over `file`'s exact bytes: the raw 64-byte signature. */
export async function signRaw(privateKey: string, file: string): Promise<Buffer> {
  const out = `${file}.rawsig`;
  await run("openssl", ["pkeyutl", "-sign", "-rawin", "-inkey", privateKey, "-in", file, "-out", out]);
  const sig = await fsp.readFile(out);
  await fsp.rm(out);
  return sig;
}

/** Sign `file` and write the detached `<file>.sig` (base64, one line) as docs/FEED.md says. */
export async function signFeed(privateKey: string, file: string): Promise<void> {
  await fsp.writeFile(`${file}.sig`, (await signRaw(privateKey, file)).toString("base64") + "\n");
}
