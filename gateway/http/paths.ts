import { GatewayError } from '../errors.js';

export interface SplitTarget {
  /** Canonical path: decoded once, validated, re-encoded minimally. Routed and sent upstream. */
  readonly path: string;
  /** Raw query without `?`, '' when absent. */
  readonly rawQuery: string;
}

// pchar (RFC 3986 §3.3) minus ';' (path parameters are refused): left as-is in the canonical form.
const KEEP = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
// A path already in canonical form: non-empty segments of KEEP characters only, at most one
// trailing slash. Most request paths are; they skip the per-segment decode and re-encode, which
// would return them unchanged (the proxied hot path). Dot segments still go the slow way to be refused.
const CANONICAL = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@]+)+\/?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * Splits a request-target into a canonical path and the raw query. The path is decoded
 * exactly once and refused (400 `INVALID_PATH`) when it is ambiguous: dot segments raw or encoded,
 * encoded `/` or `\`, any `\`, empty segments (`//`), NUL or other control characters, `;`
 * path parameters, and invalid percent-encodings. The canonical form re-encodes only what must be,
 * so `/api/v1/%61uth` and `/api/v1/auth` are the same route, and the upstream sees that same path.
 */
export function splitTarget(target: string | undefined): SplitTarget {
  if (!target || target[0] !== '/') throw bad('request-target is not origin-form');
  // A fragment is never sent (RFC 9112 §3.2); when a client does, it starts at the first '#'
  // wherever that is (RFC 3986 §3.5), also before any '?', and is dropped, never routed.
  const hash = target.indexOf('#');
  const beforeHash = hash === -1 ? target : target.slice(0, hash);
  const q = beforeHash.indexOf('?');
  const rawPath = q === -1 ? beforeHash : beforeHash.slice(0, q);
  const rawQuery = q === -1 ? '' : beforeHash.slice(q + 1);
  return { path: normalizePath(rawPath), rawQuery };
}

export function normalizePath(rawPath: string): string {
  if (rawPath.length === 0 || rawPath[0] !== '/') throw bad('path must start with /');
  if (rawPath.length > 4096) throw bad('path too long');
  if (rawPath === '/') return '/';
  if (CANONICAL.test(rawPath) && !DOT_SEGMENT.test(rawPath)) return rawPath;
  const segments = rawPath.slice(1).split('/');
  let out = '';
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i] as string;
    const last = i === segments.length - 1;
    if (raw === '') {
      // A single trailing slash is allowed (`/api/v1/users/`); any other empty segment is not.
      if (last) {
        out += '/';
        continue;
      }
      throw bad('empty path segment');
    }
    const decoded = decodeSegment(raw);
    if (decoded === '.' || decoded === '..') throw bad('dot segment');
    out += '/' + encodeSegment(decoded);
  }
  return out;
}

function decodeSegment(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (ch === 0x25 /* % */) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw bad('invalid percent-encoding');
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch > 0x7e || ch < 0x21) {
      throw bad('raw non-ASCII or control character in path');
    } else {
      bytes.push(ch);
    }
  }
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw bad('path is not valid UTF-8');
  }
  let ascii = true;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) throw bad('control character in path');
    if (c === 0x2f /* / */ || c === 0x5c /* \ */) throw bad('encoded or raw slash/backslash in a segment');
    if (c === 0x3b /* ; */) throw bad('path parameters are not accepted');
    if (c > 0x7f) ascii = false;
  }
  // An upstream that applies NFKC (or a "best fit" code page) would read U+FF0E U+FF0E as "..",
  // U+FF0F as "/", U+FF05 as "%": the same request would mean another path there than here.
  if (!ascii) {
    const folded = decoded.normalize('NFKC');
    if (folded === '.' || folded === '..' || /[/\\;%?#]/.test(folded))
      throw bad('segment changes meaning under Unicode normalization');
  }
  return decoded;
}

function encodeSegment(decoded: string): string {
  let out = '';
  for (const ch of decoded) {
    if (KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Zero-width and invisible format characters (U+200B…, soft hyphen, BOM) an upstream may drop. */
const INVISIBLE = /[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g;
/** Only a canonical path with one of these can fold to something else (upper case, dot, escape). */
const MAY_FOLD = /[A-Z.%]/;

/**
 * The path as a lenient upstream might read it: each segment decoded, NFKC-normalized,
 * case-folded, without zero-width characters, trimmed, without trailing dots (Windows and IIS
 * drop them), and empty segments collapsed. Express routes case-insensitively by default; other
 * servers trim. Returns `canonical` itself when nothing would change (no allocation).
 */
export function foldPath(canonical: string): string {
  if (!MAY_FOLD.test(canonical)) return canonical;
  let out = '';
  for (const raw of canonical.slice(1).split('/')) {
    let seg = raw.includes('%') ? decodeURIComponent(raw) : raw;
    seg = seg
      .normalize('NFKC')
      .toLowerCase()
      .replace(INVISIBLE, '')
      .trim()
      .replace(/[.\s]+$/, '');
    if (seg !== '') out += '/' + seg;
  }
  if (out === '') out = '/';
  else if (canonical.endsWith('/')) out += '/';
  return out === canonical ? canonical : out;
}

function bad(detail: string): GatewayError {
  return new GatewayError('INVALID_PATH', { detail });
}
