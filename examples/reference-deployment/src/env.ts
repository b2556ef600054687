import { readFileSync } from "node:fs";

/** Thrown for a bad environment variable; the entry points print it and exit 1. */
export class ConfigError extends Error {}

/** A string variable, or its default. */
export function envString(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value.trim() === "" ? fallback : value.trim();
}

/** An integer variable within [min, max], or its default. */
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

/** The contents of the file a variable names, or undefined when it is unset. */
export function envFile(name: string): Buffer | undefined {
  const path = process.env[name];
  if (path === undefined || path.trim() === "") return undefined;
  try {
    return readFileSync(path.trim());
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Where the gateway's read cache lives (`CACHE_URL`): in process, in process plus Redis, or nowhere. */
export type CacheSetting =
  | { readonly kind: "memory" }
  | { readonly kind: "redis"; readonly url: string; readonly where: string }
  | { readonly kind: "off" };

/**
 * `CACHE_URL`: `memory:` (the default: an in-process cache), `redis://host[:port][/db]`
 * or `rediss://...` (in process, and Redis shared by every gateway), or
 * `off`. A bad value is a ConfigError that never repeats a password.
 */
export function envCache(name: string): CacheSetting {
  const raw = envString(name, "memory:");
  if (raw === "memory:") return { kind: "memory" };
  if (raw === "off") return { kind: "off" };
  const expected = `${name} must be memory:, off, or redis://[[user]:password@]host[:port][/db]`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${expected} (got a value that is not a URL)`);
  }
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError(`${expected} (got the scheme "${url.protocol}")`);
  }
  if (url.hostname === "") throw new ConfigError(`${expected} (got no host)`);
  if (!/^(?:\/?|\/\d{1,2})$/.test(url.pathname) || url.search !== "" || url.hash !== "") {
    throw new ConfigError(`${expected}: the path is a database number, nothing follows it (got ${shown})`);
  }
  return { kind: "redis", url: raw, where: shown };
}
