/**
 * Each replica's own serving as an agent of the traffic board: for every registered model the
 * replica serves, a TrafficAgent reads the split the driving replica published and applies it here,
 * reports here what it applied, and posts this replica's figures of the split. So a canary runs in
 * every replica, whichever one holds the releases lease, and the analysis sees all of its traffic.
 */
import type { Logger } from '../core/logger.js';
import { parseModelUri } from '../core/model-source.js';
import type { TrafficController } from '../core/traffic-split.js';
import { TrafficAgent, type TrafficLink } from './traffic-agent.js';
import { BOARD_DRIVER_STALE_MS } from './traffic-hub.js';

/** How often the follower looks for models this replica started or stopped serving. */
export const FOLLOWER_SCAN_MS = 1000;
/** How often each local agent reads the board (a store read each). */
const LOCAL_POLL_MS = 500;

export interface LocalTrafficFollowerInit {
  link: TrafficLink;
  /** This replica's serving; undefined while it is not set up. */
  traffic: () => TrafficController | undefined;
  /** The names of the models this replica serves now. */
  servedNames: () => readonly string[];
  logger: Logger;
  /** @default FOLLOWER_SCAN_MS */
  scanMs?: number;
}

/** Keeps one agent per registered model this replica serves; `close` stops them (leaving traffic as it is). */
export class LocalTrafficFollower {
  readonly #init: LocalTrafficFollowerInit;
  readonly #agents = new Map<string, { uri: string; agent: TrafficAgent }>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(init: LocalTrafficFollowerInit) {
    this.#init = init;
  }

  start(): void {
    this.#scan();
    this.#timer = setInterval(() => this.#scan(), this.#init.scanMs ?? FOLLOWER_SCAN_MS);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const all = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(all.map((a) => a.agent.close()));
  }

  #scan(): void {
    const traffic = this.#init.traffic();
    if (this.#closed || !traffic) return;
    const wanted = new Map<string, string>();
    for (const name of this.#init.servedNames()) {
      const uri = traffic.servedUri(name);
      // Releases move registry aliases: files served by path take no part.
      if (uri !== undefined && parseModelUri(uri)?.name === name) wanted.set(name, uri);
    }
    for (const [name, entry] of this.#agents) {
      if (wanted.get(name) === entry.uri) continue;
      this.#agents.delete(name);
      void entry.agent.close();
    }
    for (const [name, uri] of wanted) {
      if (this.#agents.has(name)) continue;
      const agent = new TrafficAgent({
        link: this.#init.link,
        model: name,
        servedAs: name,
        uri,
        traffic,
        version: () => traffic.servedVersion?.(name),
        logger: this.#init.logger,
        pollMs: LOCAL_POLL_MS,
        // The store out of reach for as long as a driver may go quiet: the split is rolled back here.
        unreachableMs: BOARD_DRIVER_STALE_MS,
      });
      this.#agents.set(name, { uri, agent });
      agent.start();
    }
  }
}
