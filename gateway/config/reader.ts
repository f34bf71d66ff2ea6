import { readFileSync } from 'node:fs';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Typed reads of one environment, collecting every problem instead of throwing at the first
 * (oauth2-proxy's one-pass validation): loadConfig reports them all in one ConfigError.
 */
export class Reader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  problem(message: string): void {
    this.problems.push(message);
  }

  str(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  /** `NAME` or the contents of the file named by `NAME_FILE` (trailing newline trimmed). */
  secret(name: string): string | null {
    const direct = this.env[name];
    const file = this.env[`${name}_FILE`];
    if (direct !== undefined && direct !== '' && file) {
      this.problems.push(`${name} and ${name}_FILE: set only one`);
      return null;
    }
    if (file) {
      try {
        const v = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
        return v === '' ? null : v;
      } catch (err) {
        this.problems.push(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
        return null;
      }
    }
    return direct === undefined || direct === '' ? null : direct;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.str(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name}: must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  list(name: string): string[] {
    const raw = this.str(name);
    if (raw === undefined) return [];
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** PEM blocks may contain commas in no place, but JWKs do: split on blank-line or `;;`. */
  pemList(name: string): string[] {
    const raw = this.secret(name);
    if (raw === null) return [];
    const pems = raw.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g);
    if (pems) return pems;
    return raw
      .split(';;')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  hostPorts(name: string): { host: string; port: number }[] {
    return this.list(name).flatMap((hp) => {
      const m = /^([^\s:/]+):(\d{1,5})$/.exec(hp);
      if (!m) {
        this.problems.push(`${name}: "${hp}" is not host:port`);
        return [];
      }
      return [{ host: m[1] ?? '', port: Number(m[2]) }];
    });
  }
}
