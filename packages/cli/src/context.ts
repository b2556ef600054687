import type { Command } from "commander";

/**
 * Where a `modelreg` command reads and writes: the process's streams and
 * environment for the bin, captured ones for tests and for programs that
 * run a command in process ({@link runCli}).
 */
export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
  /** The environment options are read from (flags win over it, it wins over the config file). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The directory relative paths (config file, SQLite path) are resolved from. */
  readonly cwd: string;
}

/** How a client verb prints its result: a readable table, one JSON document, or one JSON object per line. */
export type OutputFormat = "table" | "json" | "ndjson";

/**
 * Adds a group of commands to `parent`. Every command module exports one;
 * `createProgram` calls them in order.
 */
export type RegisterCommands = (parent: Command, io: CliIo) => void;
