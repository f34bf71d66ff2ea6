/** RFC 3339 UTC without milliseconds, as the API reference shows (`2026-01-01T00:00:00Z`). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
