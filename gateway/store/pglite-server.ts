/**
 * A Postgres wire-protocol front for one PGlite instance, so the quickstart's gateway reaches the
 * embedded database through the ordinary `pg` pool (README.md). PGlite is ONE backend session, so
 * connections take turns: a connection owns the session from its first message until a
 * ReadyForQuery says "idle" (`Z` status `I`), i.e. through a whole Parse…Sync exchange and through
 * a whole transaction. That is the unit Postgres itself keeps together per connection.
 *
 * Why not pglite-socket's server: it queues single messages, so another connection's Parse or
 * Bind can run between this one's Parse and Bind and hijack the unnamed statement; measured with
 * a 3-connection pool and concurrent transactions, a third of plain SELECTs got another
 * statement's result. It also drops NOTIFY.
 *
 * LISTEN/NOTIFY: every NOTIFY lands in the output of the connection that committed it (one
 * session). This front takes each NotificationResponse (`A`) out of that stream and hands it to
 * the connections that ran `LISTEN <channel>` (Postgres also delivers a session's own NOTIFY to
 * itself), so node-key revocation (docs/api.md) behaves as it does against a real server.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
// Simple Query 'Q' or Parse 'P' text that starts or stops listening.
const LISTEN_RE = /^\s*(UN)?LISTEN\s+("?)([A-Za-z_][A-Za-z0-9_$]*|\*)\2\s*;?\s*$/i;

export interface PgliteServer {
  /** "127.0.0.1:<port>" */
  readonly address: string;
  readonly port: number;
  /** Stops accepting, closes every connection (rolling back an open transaction), resolves when closed. */
  close(): Promise<void>;
}

interface Conn {
  readonly socket: Socket;
  readonly channels: Set<string>;
  started: boolean;
  closed: boolean;
  /** Resolves when this connection's queued work, and its clean-up, are done. */
  idle(): Promise<void>;
}

/** A frontend Query message ('Q', int32 length, text\0). */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message.write('Q', 0, 'latin1');
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return new Uint8Array(message);
}

/** Serves `db` on `host` (default 127.0.0.1) and `port` (default 0: a free one). */
export async function startPgliteServer(
  db: PGlite,
  options: { host?: string; port?: number } = {},
): Promise<PgliteServer> {
  const conns = new Set<Conn>();
  // Connections whose clean-up has not finished yet (close() waits for them).
  const all = new Set<Conn>();
  let owner: Conn | null = null;
  const waiters: { conn: Conn; resolve: () => void }[] = [];

  async function acquire(conn: Conn): Promise<void> {
    if (owner === null || owner === conn) {
      owner = conn;
      return;
    }
    await new Promise<void>((resolve) => waiters.push({ conn, resolve }));
  }
  function release(conn: Conn): void {
    if (owner !== conn) return;
    owner = null;
    const next = waiters.shift();
    if (next) {
      owner = next.conn;
      next.resolve();
    }
  }

  /** Runs one frontend message; returns the ReadyForQuery status if the reply ended with one. */
  async function execute(conn: Conn, message: Buffer): Promise<string | null> {
    let carry: Buffer = Buffer.alloc(0);
    let status: string | null = null;
    await db.runExclusive(() =>
      db.execProtocolRawStream(new Uint8Array(message), {
        onRawData(chunk) {
          carry = carry.length === 0 ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
          let at = 0;
          const keep: Buffer[] = [];
          while (carry.length - at >= 5) {
            const len = carry.readInt32BE(at + 1);
            if (carry.length - at < 1 + len) break;
            const msg = carry.subarray(at, at + 1 + len);
            const type = String.fromCharCode(msg[0] ?? 0);
            if (type === 'Z') status = String.fromCharCode(msg[5] ?? 0);
            if (type === 'A') deliver(conn, msg, keep);
            else keep.push(msg);
            at += 1 + len;
          }
          carry = carry.subarray(at);
          if (keep.length > 0 && !conn.closed) conn.socket.write(Buffer.concat(keep));
        },
      }),
    );
    if (carry.length > 0 && !conn.closed) conn.socket.write(carry);
    return status;
  }

  function deliver(from: Conn, notification: Buffer, ownOutput: Buffer[]): void {
    // NotificationResponse: 'A', int32 len, int32 pid, channel\0, payload\0
    const end = notification.indexOf(0, 9);
    const channel = notification.toString('utf8', 9, end < 0 ? 9 : end);
    for (const c of conns) {
      if (c.closed || !c.channels.has(channel)) continue;
      if (c === from) ownOutput.push(Buffer.from(notification));
      else c.socket.write(Buffer.from(notification));
    }
  }

  function track(conn: Conn, type: string, message: Buffer): void {
    if (type !== 'Q' && type !== 'P') return;
    // Q: text\0. P: statement name\0 then text\0.
    let start = 5;
    if (type === 'P') start = message.indexOf(0, 5) + 1;
    const end = message.indexOf(0, start);
    const m = LISTEN_RE.exec(message.toString('utf8', start, end < 0 ? message.length : end));
    if (!m) return;
    const raw = m[3] ?? '';
    // Unquoted identifiers fold to lower case, as Postgres does.
    const channel = m[2] ? raw : raw.toLowerCase();
    if (m[1]) {
      if (channel === '*') conn.channels.clear();
      else conn.channels.delete(channel);
    } else if (channel !== '*') {
      conn.channels.add(channel);
    }
  }

  function handle(socket: Socket): void {
    let buffer: Buffer = Buffer.alloc(0);
    let chain = Promise.resolve();
    const conn: Conn = { socket, channels: new Set(), started: false, closed: false, idle: () => chain };
    conns.add(conn);
    all.add(conn);
    socket.setNoDelay(true);

    const shutdown = () => {
      if (conn.closed) return;
      conn.closed = true;
      conns.delete(conn);
      chain = chain
        .then(async () => {
          if (owner !== conn) return;
          // Never leave the shared session inside a dead connection's transaction. (Raw protocol:
          // db.exec would wait on the mutex runExclusive holds.)
          if (db.isInTransaction()) {
            await db
              .runExclusive(() => db.execProtocolRawStream(simpleQuery('ROLLBACK'), { onRawData: () => {} }))
              .catch(() => {});
          }
          release(conn);
        })
        .finally(() => all.delete(conn));
      socket.destroy();
    };

    const pump = async () => {
      for (;;) {
        if (conn.closed) return;
        let message: Buffer;
        let type: string;
        if (!conn.started) {
          if (buffer.length < 8) return;
          const len = buffer.readInt32BE(0);
          if (buffer.length < len) return;
          message = buffer.subarray(0, len);
          buffer = buffer.subarray(len);
          const code = message.readInt32BE(4);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST || code !== PROTOCOL_3) {
            shutdown();
            return;
          }
          conn.started = true;
          type = 'startup';
        } else {
          if (buffer.length < 5) return;
          const len = buffer.readInt32BE(1);
          if (buffer.length < 1 + len) return;
          message = Buffer.from(buffer.subarray(0, 1 + len));
          buffer = buffer.subarray(1 + len);
          type = String.fromCharCode(message[0] ?? 0);
          if (type === 'X') {
            shutdown();
            return;
          }
          track(conn, type, message);
        }
        await acquire(conn);
        if (conn.closed) {
          release(conn);
          return;
        }
        const status = await execute(conn, message);
        if (status === 'I') release(conn);
      }
    };

    socket.on('data', (data: Buffer) => {
      buffer = buffer.length === 0 ? data : Buffer.concat([buffer, data]);
      chain = chain.then(pump).catch(() => shutdown());
    });
    socket.on('error', shutdown);
    socket.on('close', shutdown);
  }

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    address: `${address}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of conns) c.socket.destroy();
      await closed;
      await Promise.all([...all].map((c) => c.idle()));
    },
  };
}
