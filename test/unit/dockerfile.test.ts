/**
 * The Dockerfile, checked without a Docker engine: a build stage that compiles TypeScript and a
 * runtime stage on the current Node LTS (24) with production dependencies only, dist/, the
 * workspace verifier it links to, a non-root user, a HEALTHCHECK that needs nothing but node, and
 * NODE_ENV=production. The compose file's commands must name files the image holds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly steps: Instruction[];
}

/** Stages of a Dockerfile: comments dropped, `\` continuations joined. */
function stages(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).replace(/\s+/g, ' ');
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      out.push({ image: from?.[1] ?? args, name: from?.[2], steps: [] });
    } else out.at(-1)?.steps.push({ op, args });
  }
  return out;
}

const all = stages(read('Dockerfile'));
const build = all.find((s) => s.steps.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)));
const runtime = all.at(-1) as Stage;
const args = (stage: Stage, op: string) => stage.steps.filter((i) => i.op === op).map((i) => i.args);

describe('Dockerfile', () => {
  it('is multi-stage and every stage runs on Node 24, the current LTS', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) {
      const m = /^node:(\d+)(?:[.-]|$)/.exec(s.image);
      expect(m?.[1], s.image).toBe('24');
    }
    // The image's Node satisfies package.json's engines floor.
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(Number(/(\d+)/.exec(engines)?.[1])).toBeLessThanOrEqual(24);
  });

  it('compiles TypeScript in the build stage and keeps production dependencies only', () => {
    expect(build).toBeDefined();
    expect(build).not.toBe(runtime);
    const runs = args(build as Stage, 'RUN').join(' && ');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(runs).toMatch(/npm run build/);
    expect(runs).toMatch(/npm prune (?=.*--omit=dev)(?=.*--omit=optional)/);
    // Every file the build stage copies from the context exists in the repository.
    for (const copy of args(build as Stage, 'COPY')) {
      const parts = copy.split(' ').filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
  });

  it('runs dist/ as the node user with NODE_ENV=production, nothing installed or compiled at run time', () => {
    expect(args(runtime, 'RUN')).toEqual([]);
    const copies = args(runtime, 'COPY');
    for (const c of copies) expect(c, c).toMatch(/--from=\S+ --chown=node:node /);
    for (const path of [
      '/app/dist',
      '/app/node_modules',
      '/app/packages/verifier/dist',
      '/app/packages/verifier/package.json',
      '/app/bin',
    ]) {
      expect(
        copies.some((c) => c.includes(` ${path} `)),
        path,
      ).toBe(true);
    }
    expect(args(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    const user = runtime.steps.findIndex((i) => i.op === 'USER');
    expect(runtime.steps[user]?.args).toBe('node');
    expect(user).toBeLessThan(runtime.steps.findIndex((i) => i.op === 'CMD'));
    expect(args(runtime, 'CMD')).toEqual(['["node", "bin/gateway.cjs"]']);
    expect(args(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  it('has a HEALTHCHECK on /healthz that needs only node (no curl or wget in a slim image)', () => {
    const [health] = args(runtime, 'HEALTHCHECK');
    expect(health).toMatch(/CMD \["node", "-e", ".*\/healthz/);
    expect(health).not.toMatch(/\b(curl|wget)\b/);
  });

  it('keeps build output and local secrets out of the build context', () => {
    const ignore = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', 'packages/*/dist', 'config/compose.env', 'config/secrets'])
      expect(ignore).toContain(entry);
  });

  it('holds every entry point docker-compose.yml starts', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { command?: string[]; image?: string }>;
    };
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.image?.startsWith('get2dial-gateway')) continue;
      const script = service.command?.[1] ?? 'bin/gateway.cjs';
      // dist/x.js is compiled from x.ts; bin/ is copied as is.
      const source = script.startsWith('dist/') ? script.replace(/^dist\//, '').replace(/\.js$/, '.ts') : script;
      expect(existsSync(join(ROOT, source)), `${name}: ${script}`).toBe(true);
    }
  });
});
