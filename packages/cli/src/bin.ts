#!/usr/bin/env node
// The `modelreg` executable: runs the command line and hands its exit code to the shell.
import { ExitCode } from "./exit-codes";
import { runCli } from "./main";

// A reader that went away (`modelreg models list | head`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

// grpc-js names the registry's host as the TLS server name, an IP address too, and Node warns about that
// on stderr (DEP0123) for every connection: noise for a command's user that breaks `--json` stderr.
// Only that warning is dropped; every other one is printed as Node would.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = typeof rest[0] === "object" ? (rest[0] as { code?: string } | null)?.code : rest[1];
  if (code === "DEP0123") return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

process.exitCode = await runCli(process.argv.slice(2));
// Interrupted: output still queued for a reader that stopped reading is dropped, not waited for.
if (process.exitCode === ExitCode.INTERRUPTED) process.exit(process.exitCode);
