/**
 * Single-use action nonces (SPEC section 8): every state-changing form the
 * page renders carries a fresh one, bound to that form's route and target.
 * A POST must hand back one that was issued, for that same route and target,
 * and not used yet; it is spent on first use, so a reload, a double click or
 * a captured request replayed later changes nothing (409). Nonces live in the
 * serving process's memory only: a restarted `serve` knows none of the old
 * pages' forms, which is the safe answer.
 */
import crypto from "node:crypto";

interface Issued {
  route: string;
  target: string;
  expiresAt: number;
}

/** Plenty for one operator's pages; past it the oldest are forgotten (their forms answer 409). */
const MAX_OUTSTANDING = 2000;

export class Nonces {
  private issued = new Map<string, Issued>();

  /** A nonce for one form (`route`, `target`: the manifest id or plugin name), valid until `expiresAt` (ms). */
  issue(route: string, target: string, expiresAt: number, now = Date.now()): string {
    for (const [n, v] of this.issued) if (v.expiresAt <= now) this.issued.delete(n);
    while (this.issued.size >= MAX_OUTSTANDING) this.issued.delete(this.issued.keys().next().value!);
    const nonce = crypto.randomBytes(18).toString("base64url");
    this.issued.set(nonce, { route, target, expiresAt });
    return nonce;
  }

  /** Spend `nonce` for this route and target: true once, false for an unknown, used, expired or mismatched one. */
  spend(nonce: string | null, route: string, target: string, now = Date.now()): boolean {
    if (!nonce) return false;
    const v = this.issued.get(nonce);
    if (!v) return false;
    this.issued.delete(nonce);
    return v.route === route && v.target === target && now < v.expiresAt;
  }
}
