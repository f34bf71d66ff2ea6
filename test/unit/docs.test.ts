/**
 * The repository explains itself: README.md stays a short front page, every relative link in it
 * and in docs/ leads to a file that exists, and no page points at a document a clone does not have.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/spawn-gateway.js';

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

const pages = [join(ROOT, 'README.md'), join(ROOT, 'bench', 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

/** Link targets of `[text](target)` outside fenced code blocks, without their `#fragment`. */
function relativeLinks(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  const links: string[] = [];
  for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1] ?? '';
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    links.push(target.split('#')[0] ?? '');
  }
  return links;
}

/**
 * References to documents that live outside the repository. Spelled in pieces so that this file
 * does not itself contain what it forbids.
 */
const OUTSIDE_REFERENCES = new RegExp(
  [String.raw`\.\./${'shared'}`, `${'SPEC'} §`, `${'STYLE'} habit`, `${'issue'} [0-9]+`].join('|'),
);

describe('documentation', () => {
  it('README.md is a front page: at most 25 KB', () => {
    expect(statSync(join(ROOT, 'README.md')).size).toBeLessThanOrEqual(25 * 1024);
  });

  it('has the pages the README maps', () => {
    for (const page of [
      'configuration',
      'api',
      'upstream-integration',
      'edge-nodes',
      'security-model',
      'operations',
      'deployment',
      'scale-out',
      'benchmark',
      'testing',
      'dependencies',
    ]) {
      expect(existsSync(join(ROOT, 'docs', `${page}.md`)), page).toBe(true);
    }
    expect(markdownFiles(join(ROOT, 'docs', 'decisions')).length).toBeGreaterThanOrEqual(6);
  });

  it.each(pages.map((p) => [relative(ROOT, p), p]))('every relative link in %s resolves to a file', (_name, page) => {
    const broken = relativeLinks(readFileSync(page, 'utf8')).filter(
      (target) => !existsSync(join(dirname(page), decodeURIComponent(target))),
    );
    expect(broken).toEqual([]);
  });

  it.each(pages.map((p) => [relative(ROOT, p), p]))('%s points at no document a clone does not have', (_name, page) => {
    const text = readFileSync(page, 'utf8');
    expect(text).not.toMatch(OUTSIDE_REFERENCES);
  });
});
