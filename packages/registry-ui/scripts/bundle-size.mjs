#!/usr/bin/env node
// The page's size budget: the JS and CSS under dist/ui/assets, raw and gzip (what a browser downloads),
// printed, and a failure (exit 1) when either gzip total is over its budget. Run after the build; CI
// runs it in `npm run check:exports`. Raise a budget on purpose only, and say so in the README.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Budgets, gzip bytes (about 1.5 times the measured sizes, written in the README). */
const budgets = { js: 40 * 1024, css: 8 * 1024 };

const assets = fileURLToPath(new URL("../dist/ui/assets/", import.meta.url));

let files;
try {
  files = readdirSync(assets).filter((name) => /\.(js|css)$/.test(name));
} catch {
  process.stderr.write(`bundle-size: ${assets} is missing; build the page first (npx vite build)\n`);
  process.exit(1);
}
if (!files.some((name) => name.endsWith(".js"))) {
  process.stderr.write(`bundle-size: no .js file in ${assets}; build the page first (npx vite build)\n`);
  process.exit(1);
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const totals = { js: { raw: 0, gzip: 0 }, css: { raw: 0, gzip: 0 } };
for (const name of files.sort()) {
  const body = readFileSync(join(assets, name));
  const gzip = gzipSync(body, { level: 9 }).length;
  const kind = name.endsWith(".js") ? "js" : "css";
  totals[kind].raw += body.length;
  totals[kind].gzip += gzip;
  process.stdout.write(
    `${name.padEnd(32)} ${kb(body.length).padStart(9)} raw ${kb(gzip).padStart(9)} gzip\n`,
  );
}

let over = false;
for (const kind of ["js", "css"]) {
  const { raw, gzip } = totals[kind];
  const ok = gzip <= budgets[kind];
  over ||= !ok;
  process.stdout.write(
    `${kind.toUpperCase().padEnd(4)} total ${kb(raw)} raw, ${kb(gzip)} gzip; budget ${kb(budgets[kind])} gzip` +
      `${ok ? "" : "  OVER BUDGET"}\n`,
  );
}
if (over) {
  process.stderr.write(
    "bundle-size: the page is over its size budget (packages/registry-ui/scripts/bundle-size.mjs). " +
      "Make it smaller, or raise the budget on purpose and update the package README.\n",
  );
  process.exit(1);
}
