#!/usr/bin/env node
// `npm start` will run the reference deployment (registry on :9090, gateway on
// :8080) once examples/reference-deployment exists (issue 6). Until then it
// says so and fails, rather than pretending to start something.
console.error(
  "npm start: the reference deployment (registry on :9090, gateway on :8080) is not yet available.\n" +
    "What exists today is the ModelService contract in packages/proto; see README.md.",
);
process.exit(1);
