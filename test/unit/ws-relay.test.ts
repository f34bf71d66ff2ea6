/**
 * The relay's liveness (gateway/proxy/ws-relay.ts) on real loopback sockets: each tick pings both
 * sides (unmasked toward the client, masked toward the upstream), the pong that answers the
 * gateway's ping is not forwarded while the peers' own pings and pongs pass byte for byte, and a
 * side that stayed silent for a whole period gets both connections cut.
 */
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay } from '../../gateway/proxy/ws-relay.js';
import { controlFrame, OP_PING, OP_PONG } from '../../gateway/proxy/ws-wire.js';

const server = createServer();
const accepted: Socket[] = [];
server.on('connection', (s) => accepted.push(s));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Two connected loopback sockets: [the dialling one, the accepted one]. */
async function pair(): Promise<[Socket, Socket]> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => a.once('connect', r));
  while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
  return [a, accepted.shift() as Socket];
}

function collect(s: Socket): { bytes: () => Buffer; closed: Promise<void> } {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  return { bytes: () => Buffer.concat(chunks), closed: new Promise((r) => s.once('close', () => r())) };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('relay liveness', () => {
  it('pings both sides, drops only the pong to its own ping, and cuts a side silent for a period', async () => {
    const [clientApp, gwClient] = await pair();
    const [gwUpstream, upstreamApp] = await pair();
    const c = collect(clientApp);
    const u = collect(upstreamApp);
    let ended = false;
    const relay = startRelay({
      client: gwClient,
      upstream: gwUpstream,
      clientHead: Buffer.alloc(0),
      upstreamHead: Buffer.alloc(0),
      clientMaxMessage: 1 << 20,
      upstreamMaxMessage: 1 << 24,
      closeGraceMs: 5_000,
      onEnd: () => (ended = true),
    });

    // The peers' own ping and pong pass unchanged.
    const ownPing = controlFrame(OP_PING, Buffer.from('mine'), true);
    clientApp.write(ownPing);
    const ownPong = controlFrame(OP_PONG, Buffer.from('yours'), false);
    upstreamApp.write(ownPong);
    await settle();
    expect(u.bytes().equals(ownPing)).toBe(true);
    expect(c.bytes().equals(ownPong)).toBe(true);

    relay.tick();
    await settle();
    const toClient = c.bytes().subarray(ownPong.length);
    expect(toClient[0]).toBe(0x80 | OP_PING);
    expect((toClient[1] as number) & 0x80).toBe(0); // unmasked toward the client
    const token = toClient.subarray(2);
    expect(token.toString()).toMatch(/^g2d-\d+$/);
    const toUpstream = u.bytes().subarray(ownPing.length);
    expect(toUpstream[0]).toBe(0x80 | OP_PING);
    expect((toUpstream[1] as number) & 0x80).toBe(0x80); // masked toward the upstream

    // The client answers the gateway's ping: the pong stops at the gateway. The upstream says nothing.
    clientApp.write(controlFrame(OP_PONG, token, true));
    await settle();
    expect(u.bytes().length).toBe(ownPing.length + toUpstream.length);

    relay.tick();
    await Promise.all([c.closed, u.closed]);
    await settle();
    expect(ended).toBe(true);
  });
});
