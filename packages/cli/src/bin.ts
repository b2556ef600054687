#!/usr/bin/env node
// The `modelreg` executable: runs the command line and hands its exit code to the shell.
import { ExitCode } from "./exit-codes";
import { runCli } from "./main";

// A reader that went away (`modelreg models list | head`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await runCli(process.argv.slice(2));
// Interrupted: output still queued for a reader that stopped reading is dropped, not waited for.
if (process.exitCode === ExitCode.INTERRUPTED) process.exit(process.exitCode);
