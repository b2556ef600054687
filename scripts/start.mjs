#!/usr/bin/env node
// `npm start`: runs the reference deployment, the registry (gRPC :9090) and
// the gateway (HTTP :8080), as two processes with both logs on this
// terminal. Ctrl-C (or SIGTERM) stops both cleanly; if one exits on its own,
// the other is stopped too and the exit code says so. `npm start` builds
// the packages first (the `prestart` script).
import { spawn } from "node:child_process";
import { join } from "node:path";

const dir = join(import.meta.dirname, "..", "examples", "reference-deployment", "dist");
const children = ["registry", "gateway"].map((name) => ({
  name,
  process: spawn(process.execPath, ["--enable-source-maps", join(dir, `${name}.js`)], { stdio: "inherit" }),
}));

let stopping = false;
let exitCode = 0;
const stopAll = (signal) => {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.process.exitCode === null) child.process.kill(signal);
};
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stopAll("SIGTERM"));

await Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) =>
        child.process.once("exit", (code, signal) => {
          if (!stopping) {
            console.error(
              `npm start: the ${child.name} exited (${signal ?? code}); stopping the other process`,
            );
            exitCode = 1;
            stopAll("SIGTERM");
          } else if (code !== 0) {
            exitCode = 1;
          }
          resolve();
        }),
      ),
  ),
);
process.exit(exitCode);
