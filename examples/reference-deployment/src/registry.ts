// The Model Registry process of the reference deployment: `modelreg serve`, configured by the
// environment (REGISTRY_PORT, DATABASE_URL, AUTH_TOKENS_FILE, ...: `modelreg serve --help` lists each
// variable with its flag and default). Stops cleanly on SIGINT/SIGTERM; a bad setting exits 1.
import { processIo, runCli } from "@modelreg/cli";

// Its own arguments are passed on (`node dist/registry.js --log-level debug`).
process.exit(await runCli(["serve", ...process.argv.slice(2)], processIo()));
