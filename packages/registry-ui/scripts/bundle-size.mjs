#!/usr/bin/env node
// The page's size budget: the JS and CSS the built page loads (dist/ui/assets), raw and gzip (what a browser downloads),
// printed, and a failure (exit 1) when either gzip total is over its budget. Run after the build; CI
// runs it in `npm run check:exports`. Raise a budget on purpose only, and say so in the README.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Budgets, gzip bytes (about 1.5 times the measured sizes, written in the README). */
const budgets = { js: 28 * 1024, css: 4 * 1024 };

const ui = fileURLToPath(new URL("../dist/ui/", import.meta.url));
const assets = join(ui, "assets");

/**
 * The files the page loads: those index.html names, and the chunks they import in turn. Not every file
 * in the folder: a build that keeps old hashed files (the tests' rebuilds do) must not count them.
 */
function loadedFiles() {
  const html = readFileSync(join(ui, "index.html"), "utf8");
  const pending = [...html.matchAll(/(?:src|href)="\.\/assets\/([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  const seen = new Set();
  while (pending.length > 0) {
    const name = pending.pop();
    if (seen.has(name) || !existsSync(join(assets, name))) continue;
    seen.add(name);
    if (name.endsWith(".js")) {
      const code = readFileSync(join(assets, name), "utf8");
      for (const m of code.matchAll(/["'`]\.\/([\w.-]+\.(?:js|css))["'`]/g)) pending.push(m[1]);
    }
  }
  return [...seen];
}

let files;
try {
  files = loadedFiles();
} catch {
  process.stderr.write(`bundle-size: ${ui}index.html is missing; build the page first (npx vite build)\n`);
  process.exit(1);
}
if (!files.some((name) => name.endsWith(".js"))) {
  process.stderr.write(
    `bundle-size: index.html loads no script from ${assets}; rebuild the page (npx vite build)\n`,
  );
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
