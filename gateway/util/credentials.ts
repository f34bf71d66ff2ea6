/**
 * What counts as a credential in a URL or a header, judged one way everywhere: by the request
 * authenticator (which query parameter is `token`), by node and tenant scoping (`tenant_id`,
 * `node_id`), by the log scrubber and by the proxy's strip of what goes upstream. One parser, so a
 * spelling one of them reads as `token` can never be read as something else by another
 * (docs/security-model.md).
 */

/**
 * A JWS compact serialization (RFC 7515 §7.1) whose protected header is a JSON object: every JWT
 * library writes `{"`, which base64url-encodes to `eyJ`. Any such value is treated as a JWT the
 * gateway might accept: it is never forwarded and never logged, whether or not it verifies.
 */
const JWT_RE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;
/**
 * The gateway's opaque secrets: node keys `g2dn_`, refresh tokens `g2dr_`, enrollment tokens
 * `g2de_`, and any later `g2d<letter>_` kind (WebSocket tickets), followed by random base64url.
 */
const OPAQUE_RE = /g2d[a-z]_[A-Za-z0-9_-]{16,}/;
const SECRET_RE_G = new RegExp(`${JWT_RE.source}|${OPAQUE_RE.source}`, 'g');
/** Zero-width and invisible format characters some upstreams drop from names and paths. */
const INVISIBLE_RE = /[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g;
const MAX_DECODE_ROUNDS = 3;

/**
 * The parameter a query name stands for, read the way any upstream framework might read it: `+`
 * as a space, percent-decoded up to three times (an upstream that decodes twice reads `%2574oken`
 * as `token`), invisible characters removed, trimmed, case-folded, without trailing `[]`/`[0]`/
 * `[key]` groups (PHP, Rails, qs), and with `.`, `-` and spaces read as `_` (PHP folds them).
 * Over-matching costs nothing: a name that folds to `token` is treated as `token` everywhere.
 */
export function paramName(raw: string): string {
  let n = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  n = decodeRepeatedly(n);
  if (/[^a-z0-9_]/.test(n)) {
    n = n
      .replace(INVISIBLE_RE, '')
      .trim()
      .toLowerCase()
      .replace(/(?:\[[^\]]*\])+$/, '')
      .replace(/[.\- ]/g, '_');
  }
  return n;
}

/**
 * Percent-decodes until nothing changes (at most three rounds). Leniently: each run of escapes is
 * decoded on its own and a run that is not UTF-8 stays as written, so one invalid escape (`%zz`)
 * cannot shield the rest of a value from being read, as upstreams decode part by part.
 */
export function decodeRepeatedly(value: string): string {
  let v = value;
  for (let i = 0; i < MAX_DECODE_ROUNDS && v.includes('%'); i++) {
    const next = v.replace(ESCAPE_RUN, decodeRun);
    if (next === v) break;
    v = next;
  }
  return v;
}

const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    return run;
  }
}

/**
 * Query parameters the gateway itself reads as credentials: `token` (a JWT on WebSocket upgrades)
 * and `ticket` (a WebSocket ticket). Under any spelling paramName folds to them they are removed
 * before the request goes upstream.
 */
export const GATEWAY_PARAMS: ReadonlySet<string> = new Set(['token', 'ticket']);

/**
 * Escapes that can spell part of a credential once decoded (`%65` e, `%79` y, `%4A` J, `%67` g,
 * `%32` 2, `%64` d, `%5F` _, `%2E` ., `%25` a second encoding): a value with none of them and no
 * literal `eyJ`/`g2d` cannot hold one, so it is never decoded (cookies are full of `%3D`).
 */
const TELLING_ESCAPE = /%(?:25|2[eE]|32|4[aA]|5[fF]|6[47]|65|79)/;

/** Whether a value a parameter or header carries is one of the gateway's credentials (or holds one). */
export function holdsCredential(value: string): boolean {
  if (value.length < 21) return false;
  const literal = mentionsSecret(value);
  if (literal && (JWT_RE.test(value) || OPAQUE_RE.test(value))) return true;
  if (!value.includes('%') || (!literal && !TELLING_ESCAPE.test(value))) return false;
  const decoded = decodeRepeatedly(value);
  return decoded !== value && mentionsSecret(decoded) && (JWT_RE.test(decoded) || OPAQUE_RE.test(decoded));
}

/** A header name (lower-cased by Node) that is itself a credential, e.g. `eyj….eyj….sig: 1`. */
export function nameHoldsCredential(lowerName: string): boolean {
  return lowerName.length >= 21 && /eyj[a-z0-9_-]+\.[a-z0-9_-]+\.|g2d[a-z]_[a-z0-9_-]{16,}/.test(lowerName);
}

function mentionsSecret(value: string): boolean {
  return value.includes('eyJ') || value.includes('g2d');
}

/** Replaces every credential-shaped run in `text` with `[REDACTED]` (log lines, audit details). */
export function redactSecrets(text: string): string {
  if (!mentionsSecret(text) && !text.includes('%')) return text;
  let out = text.replace(SECRET_RE_G, '[REDACTED]');
  // A percent-encoded credential (`%65yJ…`, `g2dn%5F…`): the whole encoded run goes.
  if (out.includes('%')) {
    out = out.replace(/[A-Za-z0-9_.~%+-]{21,}/g, (run) =>
      run.includes('%') && holdsCredential(run) ? '[REDACTED]' : run,
    );
  }
  return out;
}

/**
 * Canonical parameter names whose value is a secret in a log line, whatever it looks like. Broader
 * than GATEWAY_PARAMS: a log may not hold any system's credential.
 */
const SECRET_NAMES: ReadonlySet<string> = new Set([
  'key',
  'pwd',
  'sig',
  'signature',
  'session',
  'sessionid',
  'sid',
  'code',
  'otp',
  'totp',
  'nonce',
]);
const SECRET_NAME_PARTS =
  /token|ticket|secret|passw|api_?key|apikey|jwt|bearer|auth|credential|cookie|private|enrollment/;

/** Whether a (raw) query parameter name names a secret, after paramName folding. */
export function isSecretParam(rawName: string): boolean {
  const n = paramName(rawName);
  return SECRET_NAMES.has(n) || SECRET_NAME_PARTS.test(n);
}

const SCRUB_HINT = /[?#%]|eyJ|g2d/;

/**
 * Removes secrets from a request-target before it is logged: the value of every query parameter
 * whose name names a secret (judged by paramName, as authentication reads it), any parameter or
 * path segment holding a credential-shaped value, and the same in a fragment. Names are kept as
 * sent so the line still tells what was there.
 */
export function scrubUrl(url: string): string {
  if (!SCRUB_HINT.test(url)) return url;
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  const scrubbedPath = redactSecrets(path);
  if (q === -1) return scrubbedPath;
  // The query and a fragment (never sent by browsers, but a client may) are scrubbed alike. The
  // line is rebuilt only from the first pair that changes (most queries hold no secret).
  let out: string | null = scrubbedPath === path ? null : scrubbedPath + url[q];
  let start = q + 1;
  for (let i = start; i <= url.length; i++) {
    const c = i < url.length ? url.charCodeAt(i) : -1;
    if (c !== -1 && c !== 0x26 /* & */ && c !== 0x3b /* ; */ && c !== 0x23 /* # */ && c !== 0x3f /* ? */) continue;
    const pair = url.slice(start, i);
    const scrubbed = scrubPair(pair);
    if (out === null && scrubbed !== pair) out = url.slice(0, start);
    if (out !== null) out += c === -1 ? scrubbed : scrubbed + url[i];
    start = i + 1;
  }
  return out ?? url;
}

function scrubPair(pair: string): string {
  if (pair === '') return pair;
  const eq = pair.indexOf('=');
  const name = eq === -1 ? pair : pair.slice(0, eq);
  if (holdsCredential(name)) return '[REDACTED]';
  if (eq === -1) return pair;
  const value = pair.slice(eq + 1);
  if (value === '') return pair;
  if (isSecretParam(name) || holdsCredential(value)) return `${name}=[REDACTED]`;
  return pair;
}

/** Every value of the parameters whose name folds (paramName) to `canonical`, in order. */
export function paramValues(query: URLSearchParams, canonical: string): string[] {
  const out: string[] = [];
  for (const [name, value] of query) if (paramName(name) === canonical) out.push(value);
  return out;
}
