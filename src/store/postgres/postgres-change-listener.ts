/**
 * Listens to a NOTIFY channel on a dedicated connection and reconnects with backoff when the
 * connection drops (a PostgreSQL restart). Notices sent while it was disconnected are lost, so
 * after each reconnection it reports a resync: the follower must look at everything once.
 */
import pg from 'pg';
import { silentLogger, type Logger } from '../../core/logger.js';
import { PROCESS_TAG, parseChangeNotice } from '../change-feed.js';

/** What a follower hears: a subject that changed in another process, or `undefined` to look at everything. */
export type ChangeListener = (subject: string | undefined) => void;

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5000;

/** A reconnecting LISTEN on one channel. */
export class PostgresChangeListener {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<ChangeListener>();
  private closed = false;
  private retryMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | undefined;
  private connectedOnce = false;

  constructor(
    private readonly options: pg.ClientConfig,
    private readonly channel: string,
    private readonly logger: Logger = silentLogger,
    /** Notices from this sender are dropped: this process announced its own changes already. */
    private readonly ignoreFrom: string = PROCESS_TAG,
  ) {
    void this.connect();
  }

  /** Calls `listener` for every notice from another process, and with undefined after a reconnection. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Whether the LISTEN connection is up now. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  private emit(subject: string | undefined): void {
    for (const l of this.listeners) {
      try {
        l(subject);
      } catch (err) {
        this.logger.error({ err }, 'change listener failed');
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...this.options, application_name: 'slipway-listen', keepAlive: true });
    let up = false;
    const lost = (err?: Error): void => {
      if (this.client === client) this.client = undefined;
      if (!up || this.closed) return;
      up = false;
      this.logger.warn({ err: err?.message, channel: this.channel }, 'change listener: connection lost; reconnecting (polling covers the gap)');
      this.scheduleReconnect();
    };
    // A dropped connection must never crash the process.
    client.on('error', (err) => lost(err));
    client.on('end', () => lost());
    client.on('notification', (msg) => {
      const notice = parseChangeNotice(msg.payload);
      if (notice && notice.from !== this.ignoreFrom) this.emit(notice.subject);
    });
    try {
      await client.connect();
      await client.query(`listen ${pg.escapeIdentifier(this.channel)}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      this.logger.debug({ err: (err as Error).message }, 'change listener: connect failed');
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    up = true;
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    // Whatever happened while nobody listened is caught up by looking at everything once.
    if (this.connectedOnce) this.emit(undefined);
    this.connectedOnce = true;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, wait);
    this.timer.unref();
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => {});
  }
}
