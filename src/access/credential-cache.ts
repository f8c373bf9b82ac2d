/**
 * The verified-credential cache: an LRU of recently verified `Authorization` headers, keyed by
 * the header's sha256 (the header itself, holding a secret, is never kept), so a repeated request
 * costs a hash and a map lookup instead of an scrypt verification.
 */
import type { Principal } from './access-types.js';

/** One verified credential. */
export interface CachedCredential {
  principal: Principal;
  /** Epoch ms after which the entry must be verified again (TTL, or the token's expiry if sooner). */
  expires: number;
}

/** A bounded LRU map of verified credentials. */
export class CredentialCache {
  private readonly entries = new Map<string, CachedCredential>();
  /**
   * Counts forgets. A verification reads it before its store read and stores its result only if no forget
   * came in between: otherwise a password changed or a token revoked during the read would be cached again.
   */
  generation = 0;

  /** @param maxEntries how many credentials to keep; the least recently used go first. */
  constructor(private readonly maxEntries: number) {}

  /** The entry for `key` if it has not expired at `now`; a hit becomes the most recently used. */
  get(key: string, now: number): CachedCredential | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    if (hit.expires <= now) return undefined;
    this.entries.set(key, hit);
    return hit;
  }

  /** Remembers a verified credential, unless something was forgotten since `generation` was read. */
  set(key: string, value: CachedCredential, generation: number): void {
    if (this.maxEntries <= 0 || generation !== this.generation) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Forgets every entry of a user (password change, admin flag, deletion). */
  forgetUser(username: string): void {
    this.generation++;
    for (const [key, value] of this.entries) if (value.principal.username === username) this.entries.delete(key);
  }

  /** Forgets every entry that authenticated with a token (revocation). */
  forgetToken(tokenId: string): void {
    this.generation++;
    for (const [key, value] of this.entries) if (value.principal.tokenId === tokenId) this.entries.delete(key);
  }

  /** How many entries are held. */
  get size(): number {
    return this.entries.size;
  }
}
