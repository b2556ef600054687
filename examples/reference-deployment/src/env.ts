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
