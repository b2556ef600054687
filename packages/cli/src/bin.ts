#!/usr/bin/env node
// The `modelreg` executable. (Contract stub: the CLI core's author wires runCli here.)
export {};
