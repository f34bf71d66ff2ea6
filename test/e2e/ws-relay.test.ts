/**
 * The WebSocket proxy relays frames as bytes (gateway/proxy/ws-relay.ts) and still keeps its rules:
 * text and binary messages, fragmented or not, arrive unchanged; a message over the limit closes
 * both sides with 1009; close codes are relayed (unsendable ones mapped); and a revocation that
 * lands while a frame is half-way through the gateway closes the client with 1008 only once that
 * frame has ended, so the client's WebSocket library sees a clean close, never a protocol error.
 * Upstreams: the verifying stub (echo), a `ws` server that records close codes, and a raw one
 * that writes frames byte by byte as the test says.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { acceptFor } from '../../gateway/proxy/ws-handshake.js';
import { FrameScanner, OP_CLOSE } from '../../gateway/proxy/ws-wire.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const MiB = 1024 * 1024;
const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let wsBase: string;

// A `ws` upstream that echoes, sends 16 MiB + 1 on "huge", and records the close codes it gets.
let recorder: WebSocketServer;
const recorderCloses: number[] = [];

// A raw upstream: frames written by hand; what the gateway sends it is scanned for close codes.
let raw: Server;
const rawCloses: (number | undefined)[] = [];
let releaseRest: (() => void) | null = null;

/** An unmasked server frame with a 64-bit length when it is large. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head = len > 0xffff ? Buffer.alloc(10) : len > 125 ? Buffer.alloc(4) : Buffer.alloc(2);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (len > 0xffff) {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  } else if (len > 125) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else head[1] = len;
  return Buffer.concat([head, payload]);
}

function startRaw(): Promise<number> {
  raw = createServer();
  raw.on('upgrade', (req, socket: Socket) => {
    socket.on('error', () => {});
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] as string)}\r\n\r\n`,
    );
    const scanner = new FrameScanner(
      {
        forward: () => {},
        control: (op, _frame, payload) => {
          if (op === OP_CLOSE) rawCloses.push(payload.length >= 2 ? payload.readUInt16BE(0) : undefined);
        },
        boundary: () => {},
        fail: () => socket.destroy(),
      },
      { maxMessage: 64 * MiB, masked: true },
    );
    socket.on('data', (chunk: Buffer) => scanner.scan(chunk));
    const path = req.url ?? '';
    if (path.startsWith('/ws/raw/partial')) {
      // Fragment one of a binary message, 100 000 bytes: its header and the first half now.
      const first = serverFrame(0x2, Buffer.alloc(100_000, 0x41), false);
      socket.write(first.subarray(0, 10 + 50_000));
      releaseRest = () => {
        socket.write(first.subarray(10 + 50_000));
        socket.write(serverFrame(0x0, Buffer.from('the end')));
      };
    } else if (path.startsWith('/ws/raw/close1006')) {
      const body = Buffer.from([0x03, 0xee, 0x78]); // 1006 may never be sent in a frame
      socket.write(serverFrame(0x8, body));
    } else if (path.startsWith('/ws/raw/vanish')) setTimeout(() => socket.destroy(), 100);
  });
  return new Promise((resolve) => raw.listen(0, '127.0.0.1', () => resolve((raw.address() as AddressInfo).port)));
}

beforeAll(async () => {
  recorder = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => recorder.once('listening', r));
  recorder.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) =>
      (data as Buffer).toString() === 'huge'
        ? ws.send(Buffer.alloc(16 * MiB + 1))
        : ws.send(data, { binary: isBinary }),
    );
    ws.on('close', (code) => recorderCloses.push(code));
  });
  const rawPort = await startRaw();
  env = await startProxyEnv(
    [
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
      {
        prefix: '/ws/rec',
        upstream: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`,
        auth: 'user',
        websocket: true,
      },
      { prefix: '/ws/raw', upstream: `http://127.0.0.1:${rawPort}`, auth: 'user', websocket: true },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
    ],
    {},
    'ws-relay',
  );
  wsBase = env.base.replace('http', 'ws');
});

afterAll(async () => {
  await env?.close();
  recorder?.close();
  raw?.closeAllConnections();
  raw?.close();
  await db.close();
});

async function login(): Promise<string> {
  const tenant = await makeTenant(db);
  const user = await makeUser(db, tenant, { role: 'agent' });
  const res = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return res.body.data.token as string;
}

interface Watched {
  ws: WebSocket;
  errors: string[];
  closed: Promise<{ code: number; reason: string }>;
}

async function open(path: string): Promise<Watched> {
  const token = await login();
  const ws = new WebSocket(`${wsBase}${path}${path.includes('?') ? '&' : '?'}token=${token}`);
  const errors: string[] = [];
  ws.on('error', (e) => errors.push(e.message));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    void closed.then(() => reject(new Error('closed before open')));
  });
  return { ws, errors, closed };
}

const nextMessage = (ws: WebSocket) =>
  new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
    ws.once('message', (data: Buffer, isBinary) => resolve({ data, isBinary })),
  );
const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe('WebSocket relay', () => {
  it('text and binary messages, fragmented or not, come back unchanged and keep their type', async () => {
    const { ws, errors, closed } = await open('/ws/agent');
    ws.send('héllo');
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from('héllo'), isBinary: false });
    const bin = Buffer.from([0, 1, 2, 255, 254]);
    ws.send(bin);
    expect(await nextMessage(ws)).toEqual({ data: bin, isBinary: true });
    const big = Buffer.alloc(MiB, 7);
    ws.send(big.subarray(0, 300_000), { fin: false });
    ws.send(big.subarray(300_000), { fin: true });
    const back = await nextMessage(ws);
    expect(back.isBinary).toBe(true);
    expect(back.data.equals(big)).toBe(true);
    ws.close(1000, 'done');
    expect(await closed).toEqual({ code: 1000, reason: 'done' });
    expect(errors).toEqual([]);
  });

  it('a client message over 1 MiB (even in fragments) closes both sides with 1009', async () => {
    const { ws, closed } = await open('/ws/rec');
    const before = recorderCloses.length;
    ws.send(Buffer.alloc(MiB / 2), { fin: false });
    ws.send(Buffer.alloc(MiB / 2 + 1), { fin: true });
    expect((await closed).code).toBe(1009);
    await until(() => recorderCloses.length > before, 'the upstream close');
    expect(recorderCloses.at(-1)).toBe(1009);
  });

  it('an upstream message over 16 MiB closes both sides with 1009', async () => {
    const { ws, closed } = await open('/ws/rec');
    const before = recorderCloses.length;
    let messages = 0;
    ws.on('message', () => (messages += 1));
    ws.send('huge');
    expect((await closed).code).toBe(1009);
    expect(messages).toBe(0);
    await until(() => recorderCloses.length > before, 'the upstream close');
    expect(recorderCloses.at(-1)).toBe(1009);
  });

  it('close codes pass both ways; 1006 in a frame becomes 1011, an upstream that vanishes 1011', async () => {
    const a = await open('/ws/agent');
    a.ws.send('close 4001 upstream says bye');
    expect(await a.closed).toEqual({ code: 4001, reason: 'upstream says bye' });
    const b = await open('/ws/rec');
    const before = recorderCloses.length;
    b.ws.close(4002, 'client says bye');
    expect((await b.closed).code).toBe(4002);
    await until(() => recorderCloses.length > before, 'the upstream close');
    expect(recorderCloses.at(-1)).toBe(4002);
    const c = await open('/ws/raw/close1006');
    expect((await c.closed).code).toBe(1011);
    expect(c.errors).toEqual([]);
    const d = await open('/ws/raw/vanish');
    expect((await d.closed).code).toBe(1011);
    expect(d.errors).toEqual([]);
  });

  it('a revocation while a large fragmented message is half-way closes the client with 1008 at the next frame boundary', async () => {
    const token = await login();
    const ws = new WebSocket(`${wsBase}/ws/raw/partial?token=${token}`);
    const errors: string[] = [];
    ws.on('error', (e) => errors.push(e.message));
    let messages = 0;
    ws.on('message', () => (messages += 1));
    let closedAt = 0;
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => {
        closedAt = Date.now();
        resolve({ code, reason: reason.toString() });
      }),
    );
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    });
    const before = rawCloses.length;
    await new Promise((r) => setTimeout(r, 200)); // half the frame is through the gateway
    expect((await call(`${env.base}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500)); // the revocation push has arrived: a close is due
    expect(closedAt).toBe(0); // …but waits for the end of the frame
    const releasedAt = Date.now();
    releaseRest?.();
    expect(await closed).toEqual({ code: 1008, reason: 'revoked' });
    expect(closedAt).toBeGreaterThanOrEqual(releasedAt);
    expect(errors).toEqual([]);
    expect(messages).toBe(0);
    await until(() => rawCloses.length > before, 'the upstream close');
    expect(rawCloses.at(-1)).toBe(1000);
  });
});
