import { GATEWAY_PARAMS, holdsCredential, paramName } from '../util/credentials.js';

/** A query that may need work: a credential name, an encoding or a credential-shaped value. */
const HINT = /token|ticket|eyJ|g2d|[%+[\]]/i;

/**
 * The query the upstream receives, for HTTP requests and WebSocket upgrades alike: the client's
 * bytes as sent (nothing re-encoded, reordered or merged) minus every parameter the gateway reads
 * as its own credential (`token`, `ticket`, under any spelling paramName folds to them) and every
 * parameter whose name or value carries a JWT or a `g2d*_` secret (util/credentials.ts). Such a
 * parameter is dropped, not refused: an edge node or a browser that put its credential in the URL
 * still gets its answer, and the credential stays at the gateway (docs/security-model.md).
 * A `&`-separated pair is judged also as the `;`-separated pairs some frameworks read in it.
 */
export function upstreamQuery(rawQuery: string): string {
  if (rawQuery === '' || !HINT.test(rawQuery)) return rawQuery;
  const pairs = rawQuery.split('&');
  const kept = pairs.filter(
    (pair) => !(isCredentialPair(pair) || (pair.includes(';') && pair.split(';').some(isCredentialPair))),
  );
  return kept.length === pairs.length ? rawQuery : kept.join('&');
}

function isCredentialPair(pair: string): boolean {
  if (pair === '') return false;
  const eq = pair.indexOf('=');
  const name = eq === -1 ? pair : pair.slice(0, eq);
  if (GATEWAY_PARAMS.has(paramName(name))) return true;
  return holdsCredential(pair);
}
