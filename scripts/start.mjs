#!/usr/bin/env node
// `npm start`: `modelreg up`, the reference deployment: the registry (gRPC :9090) and the gateway
// (HTTP :8080) as two processes with both logs on this terminal. Ctrl-C (or SIGTERM) stops both
// cleanly; if one exits on its own, the other is stopped too and the exit code says so. `npm start`
// builds the packages first (the `prestart` script); arguments after `--` go to `modelreg up`
// (`npm start -- --gateway-port 8081`).
import { spawn } from "node:child_process";
import { join } from "node:path";

const bin = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const up = spawn(process.execPath, ["--enable-source-maps", bin, "up", ...process.argv.slice(2)], {
  stdio: "inherit",
});
// Ctrl-C reaches every process through the terminal: SIGINT is not passed on (up would count it twice,
// and a second signal stops at once). A SIGTERM or SIGHUP sent to this one alone is passed on. (npm
// itself does not pass SIGTERM on to this script: under a supervisor, run the modelreg bin directly.)
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => up.kill(signal));
up.once("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
