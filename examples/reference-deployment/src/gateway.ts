// The API Gateway process of the reference deployment: `modelreg gateway`, configured by the
// environment (GATEWAY_PORT, REGISTRY_ADDRESS, CACHE_URL, ...: `modelreg gateway --help` lists each
// variable with its flag and default). Stops cleanly on SIGINT/SIGTERM; a bad setting exits 1.
import { processIo, runCli } from "@modelreg/cli";

// Its own arguments are passed on (`node dist/gateway.js --log-level debug`).
process.exit(await runCli(["gateway", ...process.argv.slice(2)], processIo()));
