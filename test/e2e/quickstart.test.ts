/**
 * `npm ci && npm start` (README.md): the compiled quickstart entry, started in an empty temporary
 * directory with no database, Redis or secrets in its environment. It must come up on its own
 * (embedded Postgres, in-process state, generated secrets, the stub), answer the demo logins,
 * proxy with a verified identity, open the agent WebSocket, and keep its data across a restart.
 * The banner's copy-paste commands are run as printed, with bash, curl and jq.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bannerCommands, EXAMPLE_NEW_PASSWORD } from '../../gateway/quickstart/banner.js';
import { DEMO_USERS } from '../../gateway/quickstart/seed.js';
import { baseEnv, freePort, ROOT } from '../helpers/spawn-gateway.js';

const run = promisify(execFile);

interface Quickstart {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Spawns `node bin/quickstart.cjs` (what `npm start` runs after its build) and waits for the banner. */
async function startQuickstart(cwd: string, env: Record<string, string>): Promise<Quickstart> {
  let out = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'quickstart.cjs')], {
    cwd,
    // baseEnv drops every DATABASE_URL/DB_*/REDIS_*/AUTH_*/IDENTITY_*/GATEWAY_*/HOST/NODE_ENV.
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!out.includes('quickstart is ready')) {
    if (child.exitCode !== null) throw new Error(`quickstart exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`quickstart not ready in 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The banner is one write; give the rest of it a moment to arrive.
  while (!out.includes('Ctrl-C stops it')) await new Promise((r) => setTimeout(r, 20));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

async function api(url: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

async function login(base: string, email: string, password: string) {
  return api(`${base}/api/v1/auth/login`, { body: { email, password } });
}

/** Runs the banner's shell lines as printed, in one bash session, and splits the output by marker. */
async function runBannerLines(lines: Record<string, string>): Promise<Record<string, string>> {
  const script = [
    'set -euo pipefail',
    ...Object.entries(lines).flatMap(([name, cmd]) => [`echo "@@${name}"`, cmd, 'echo']),
  ].join('\n');
  const { stdout } = await run('bash', ['-c', script], { timeout: 60_000 });
  const sections: Record<string, string> = {};
  for (const part of stdout.split('@@').slice(1)) {
    const nl = part.indexOf('\n');
    sections[part.slice(0, nl)] = part.slice(nl + 1).trim();
  }
  return sections;
}

const hasTools = await Promise.all(
  ['curl', 'jq'].map((t) =>
    run('bash', ['-c', `command -v ${t}`]).then(
      () => true,
      () => false,
    ),
  ),
).then((r) => r.every(Boolean));

describe('npm start: the quickstart (README.md)', () => {
  let dir: string;
  let base: string;
  let env: Record<string, string>;
  let qs: Quickstart | undefined;
  const admin = DEMO_USERS.find((u) => u.role === 'admin')!;
  let nodeKey = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'g2d-quickstart-'));
    const [port, stubPort] = [await freePort(), await freePort()];
    env = { PORT: String(port), STUB_PORT: String(stubPort), LOG_LEVEL: 'info' };
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await qs?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from an empty directory with no database, Redis or secrets, and prints the URL, the logins and the node key', async () => {
    qs = await startQuickstart(dir, env);
    const out = qs.output();
    expect(out).toContain(`Gateway    ${base}`);
    for (const u of DEMO_USERS) expect(out).toMatch(new RegExp(`${u.email}\\s+${u.password}`));
    nodeKey = readFileSync(join(dir, '.data', 'demo-node.key'), 'utf8').trim();
    expect(nodeKey).toMatch(/^g2dn_[A-Za-z0-9_-]{43}$/);
    expect(out).toContain(nodeKey);
    // One warning, and it is the clear one: the in-process store is single-instance (pretty logs).
    const warnings = out
      // eslint-disable-next-line no-control-regex -- pino-pretty colours the level
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => /\bWARN\b/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no REDIS_URL.*single instance only/);
    // Every copy-paste command is printed exactly as the test runs it.
    const commands = bannerCommands({
      gatewayUrl: base,
      users: DEMO_USERS,
      node: { name: 'demo-edge-node', apiKey: nodeKey },
    });
    for (const cmd of Object.values(commands)) expect(out).toContain(cmd.split('\n').join('\n    '));
    // It said what it was doing before the slow part, and left its database URL for the admin CLI.
    expect(out).toContain('starting embedded Postgres');
    expect(readFileSync(join(dir, '.data', 'database-url'), 'utf8')).toMatch(
      /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\n$/,
    );
    expect(out).toContain(
      `Admin CLI  GATEWAY_DATA_DIR=${join(dir, '.data')} npm run -s cli -- node list --tenant demo.get2dial.local`,
    );
  }, 120_000); // a cold start (checks, embedded Postgres, seeding) on a busy 2-core machine takes 20–60 s

  it('prints an admin CLI line that runs as pasted, and says a restart clears in-process lockouts', async () => {
    const line = /Admin CLI {2}(.+)/.exec(qs!.output())?.[1] ?? '';
    const env = baseEnv({});
    const list = await run('bash', ['-c', line], { cwd: ROOT, env, timeout: 60_000 });
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'demo-edge-node', status: 'active' })]);
    const unlock = line.replace(
      'node list --tenant demo.get2dial.local',
      'user unlock --tenant demo.get2dial.local --email agent@demo.get2dial.local',
    );
    const err = await run('bash', ['-c', unlock], { cwd: ROOT, env, timeout: 60_000 }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    expect(err).toMatch(/quickstart keeps lockout counters in its own process.*restart it/);
  });

  it('npm run ws: sends stdin lines, prints the frames it receives, closes with 1000', async () => {
    const agent = DEMO_USERS.find((u) => u.role === 'agent')!;
    const { body } = await login(base, agent.email, agent.password);
    const ws = await run('bash', ['-c', `printf 'hello\nwhoami\n' | node bin/ws.cjs /ws/agent "$T"`], {
      cwd: ROOT,
      env: { ...baseEnv({ PORT: String(new URL(base).port) }), T: body.data.token },
      timeout: 30_000,
    });
    const [echo, who] = ws.stdout.trim().split('\n');
    expect(echo).toBe('hello');
    expect(JSON.parse(who ?? '').identity).toMatchObject({ kind: 'user', email: agent.email });
    expect(ws.stderr).toContain('closed: 1000');
  });

  it('logs in with the documented demo credentials and answers /auth/me', async () => {
    for (const u of DEMO_USERS) {
      const r = await login(base, u.email, u.password);
      expect(r.status, u.email).toBe(200);
      expect(r.body.data.user).toMatchObject({
        email: u.email,
        role: u.role,
        status: 'active',
        must_change_password: false,
      });
    }
    const { body } = await login(base, admin.email, admin.password);
    const me = await api(`${base}/api/v1/auth/me`, { token: body.data.token });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({ email: admin.email, role: 'admin' });
  });

  it('proxies to the stub, which echoes the identity it verified', async () => {
    const { body } = await login(base, admin.email, admin.password);
    const me = (await api(`${base}/api/v1/auth/me`, { token: body.data.token })).body.data;
    const r = await api(`${base}/api/v1/whoami?x=1`, { token: body.data.token });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ method: 'GET', path: '/api/v1/whoami', query: 'x=1' });
    expect(r.body.data.identity).toMatchObject({
      kind: 'user',
      tenantId: me.tenant_id,
      userId: me.id,
      email: admin.email,
      role: 'admin',
    });
    // The demo edge node's key, printed in the banner, authenticates a node call.
    const node = await api(`${base}/api/v1/nodes/heartbeat`, { method: 'POST', token: nodeKey });
    expect(node.status).toBe(200);
    expect(node.body.data.identity).toMatchObject({ kind: 'node', tenantId: me.tenant_id });
  });

  it('logs one uncoloured line per request when stdout is not a terminal (LOG_FORMAT=pretty)', async () => {
    const line = /^.*INFO: request \{.*"url":"\/api\/v1\/whoami\?x=1".*$/m;
    // Access lines are buffered (up to 100 ms) and pretty-printed in a worker thread.
    for (let i = 0; i < 50 && !line.test(qs!.output()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(qs!.output()).toMatch(line);
    expect(line.exec(qs!.output())?.[0]).toMatch(/"status":200/);
    expect(qs!.output()).not.toContain('\x1b[');
  });

  it('opens /ws/agent?token= through the gateway', async () => {
    const { body } = await login(base, DEMO_USERS.find((u) => u.role === 'agent')!.email, 'demo-agent-password');
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/agent?token=${body.data.token}`);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
      const next = () => new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
      let reply = next();
      ws.send('hello from the quickstart test');
      expect(await reply).toBe('hello from the quickstart test');
      reply = next();
      ws.send('whoami');
      const who = JSON.parse(await reply);
      expect(who.identity).toMatchObject({ kind: 'user', email: 'agent@demo.get2dial.local', role: 'agent' });
      // The token rode in the URL to the gateway and was removed before the upstream (docs/api.md, WebSockets).
      expect(who.url).not.toContain('token=');
    } finally {
      ws.close();
    }
  });

  it.runIf(hasTools)(
    'runs the banner’s curl lines as printed (login | jq, me, proxied call, node call, password change)',
    async () => {
      const c = bannerCommands({
        gatewayUrl: base,
        users: DEMO_USERS,
        node: { name: 'demo-edge-node', apiKey: nodeKey },
      });
      const out = await runBannerLines({
        login: `${c.login}\necho "$TOKEN"`,
        refresh: `${c.refresh}\necho "$TOKEN"`,
        me: c.me,
        proxied: c.proxied,
        node: c.node,
        changePassword: `${c.changePassword}\necho "$TOKEN"`,
        meAfter: c.me,
      });
      expect(out.login).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(out.refresh).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(out.refresh).not.toBe(out.login);
      expect(JSON.parse(out.me ?? '')).toMatchObject({ status: 'success', data: { email: admin.email } });
      const me = JSON.parse(out.me ?? '').data;
      expect(JSON.parse(out.proxied ?? '')).toMatchObject({
        kind: 'user',
        userId: me.id,
        tenantId: me.tenant_id,
        role: 'admin',
      });
      expect(JSON.parse(out.node ?? '')).toMatchObject({ kind: 'node', tenantId: me.tenant_id });
      expect(out.changePassword).toMatch(/^eyJ/);
      expect(out.changePassword).not.toBe(out.login);
      // The new token from the password change works; the old one is refused.
      expect(JSON.parse(out.meAfter ?? '')).toMatchObject({ status: 'success' });
      expect((await api(`${base}/api/v1/auth/me`, { token: out.login })).status).toBe(401);
      expect((await api(`${base}/api/v1/auth/me`, { token: out.refresh })).status).toBe(401);
    },
  );

  it('changes a password over the API when the banner lines could not run', async () => {
    if (hasTools) return; // done by the banner's own command above
    const { body } = await login(base, admin.email, admin.password);
    const r = await api(`${base}/api/v1/auth/me/password`, {
      token: body.data.token,
      body: { current_password: admin.password, new_password: EXAMPLE_NEW_PASSWORD },
    });
    expect(r.status).toBe(200);
  });

  it('stops on SIGTERM and starts again on the same data: users, the changed password and the node key persist', async () => {
    expect(await qs!.stop()).toBe(0);
    qs = await startQuickstart(dir, env);
    expect(qs.output()).toContain(nodeKey);

    expect((await login(base, admin.email, admin.password)).status).toBe(401);
    const r = await login(base, admin.email, EXAMPLE_NEW_PASSWORD);
    expect(r.status).toBe(200);
    const me = await api(`${base}/api/v1/auth/me`, { token: r.body.data.token });
    expect(me.body.data).toMatchObject({ email: admin.email, role: 'admin' });
    // The other demo users are still there with their seeded passwords; the node key still works.
    expect((await login(base, 'agent@demo.get2dial.local', 'demo-agent-password')).status).toBe(200);
    expect((await api(`${base}/api/v1/nodes/heartbeat`, { method: 'POST', token: nodeKey })).status).toBe(200);
    expect(await qs.stop()).toBe(0);
    qs = undefined;
    // A stopped quickstart leaves no database URL behind for the CLI to trip over.
    expect(existsSync(join(dir, '.data', 'database-url'))).toBe(false);
  }, 120_000);
});

describe('npm start: checks before it builds or opens anything', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('lists a bad variable and both busy ports at once, exits 1, and creates no data directory', async () => {
    const listen = () =>
      new Promise<Server>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
        servers.push(s);
      });
    const [a, b] = [await listen(), await listen()];
    const port = (s: Server) => String((s.address() as { port: number }).port);
    const dir = mkdtempSync(join(tmpdir(), 'g2d-preflight-'));
    try {
      const result = await run(process.execPath, [join(ROOT, 'bin', 'quickstart.cjs')], {
        cwd: dir,
        env: baseEnv({ PORT: port(a), STUB_PORT: port(b), LOG_FORMAT: 'fancy' }),
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('LOG_FORMAT: must be json or pretty');
      expect(result.stderr).toContain(`port ${port(a)} on 127.0.0.1 is in use; set PORT to another port`);
      expect(result.stderr).toContain(`port ${port(b)} on 127.0.0.1 is in use; set STUB_PORT to another port`);
      expect(result.stdout).not.toMatch(/building|embedded Postgres/);
      expect(existsSync(join(dir, '.data'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
