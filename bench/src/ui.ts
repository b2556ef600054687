/**
 * The web page at scale (issue 18): how long the list's first page takes to
 * show in Debian's Chromium at 100,000 models, against 1,000 (the ratio is
 * what paging costs as the table grows). Each size gets a SQLite file
 * seeded with SQL (ui-seed.ts), served by the real stack (registry over a
 * socket + REST gateway + the page on one Express app); every round opens
 * the page cold, in a new browser context (no cache, no storage).
 *
 *   npm run bench:ui                      # 1,000 and 100,000 models, 7 rounds
 *   UI_BENCH_SIZES=1000,1000000 UI_BENCH_ROUNDS=9 npm run bench:ui
 *
 * Writes bench/results/ui.md. A number, not an assertion; not part of npm test.
 */
import { rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { Browser, Page } from "playwright-core";
import { launchChromium, newPage, startUiStack } from "../../packages/registry-ui/test/support/stack";
import { quantile } from "./load/stats";
import { seedRegistryFile } from "./ui-seed";

const sizes = (process.env.UI_BENCH_SIZES ?? "1000,100000").split(",").map(Number);
const rounds = Number(process.env.UI_BENCH_ROUNDS ?? 7);
/** "Next page" is measured from this page on, at most (keyset paging: the depth should not matter). */
const maxDepth = Number(process.env.UI_BENCH_DEPTH ?? 100);
/** The depth used at `size`: as deep as the list goes, leaving room for the measured clicks (50 a page). */
const depthAt = (size: number) => Math.max(0, Math.min(maxDepth, Math.floor(size / 50) - rounds - 1));
const resultsFile = new URL("../results/ui.md", import.meta.url);

/** In the page, before its scripts: when the first model row is inserted, and the frame after (painted). */
const firstRowProbe = `(() => {
  const observer = new MutationObserver(() => {
    if (!document.querySelector("tr[data-model-id]")) return;
    observer.disconnect();
    const inserted = performance.now();
    const nav = performance.getEntriesByType("navigation")[0];
    const api = performance.getEntriesByType("resource").find((e) => e.name.includes("/api/v1/models?"));
    const phases = { domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN, apiStart: api?.startTime ?? NaN, apiEnd: api?.responseEnd ?? NaN };
    requestAnimationFrame(() => setTimeout(() => { window.__firstRow = { inserted, painted: performance.now(), phases }; }, 0));
  });
  observer.observe(document, { childList: true, subtree: true });
})()`;

/** In the page: clicks "Next page" and times until the first row is another model (and the frame after). */
const nextPageProbe = `(async () => {
  const first = () => document.querySelector("tr[data-model-id]")?.getAttribute("data-model-id");
  const before = first();
  const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Next page");
  if (!button || button.disabled) throw new Error("no enabled Next page button");
  const started = performance.now();
  button.click();
  await new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (first() !== before) { observer.disconnect(); resolve(); }
    });
    observer.observe(document.body, { childList: true, subtree: true, attributes: true });
  });
  const inserted = performance.now() - started;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return { inserted, painted: performance.now() - started };
})()`;

interface Timing {
  /** Navigation start (or the click) -> the first row in the DOM, ms. */
  readonly inserted: number;
  /** ... -> the frame after it, ms. */
  readonly painted: number;
  /** Cold loads: when the document was parsed and its scripts ran, and the list's API call went out and came back. */
  readonly phases?: { domContentLoaded: number; apiStart: number; apiEnd: number };
}

interface Series {
  readonly size: number;
  readonly scenario: string;
  readonly timings: Timing[];
}

let retried = 0;

/** {@link coldLoadOnce}, tried a second time after a timeout (counted in the report). */
async function coldLoad(browser: Browser, url: string, hash: string): Promise<Timing> {
  try {
    return await coldLoadOnce(browser, url, hash);
  } catch (error) {
    if ((error as Error).name !== "TimeoutError") throw error;
    retried++;
    return coldLoadOnce(browser, url, hash);
  }
}

/** One cold load of `hash` in a new context: navigation start -> first row. */
async function coldLoadOnce(browser: Browser, url: string, hash: string): Promise<Timing> {
  const page = await newPage(browser);
  try {
    await page.addInitScript(firstRowProbe);
    await page.goto(`${url}${hash}`);
    // A function, not a string: the page's CSP forbids eval, which a string predicate would need.
    const probed = () => (globalThis as { __firstRow?: unknown }).__firstRow !== undefined;
    await page.waitForFunction(probed, undefined, { timeout: 30_000 }).catch(async (error: Error) => {
      const state = await page.evaluate<string>(
        `JSON.stringify({ rows: document.querySelectorAll("tr[data-model-id]").length, visibility: document.visibilityState, text: document.body.innerText.slice(0, 300) })`,
      );
      error.message += ` (page: ${state})`;
      throw error;
    });
    return await page.evaluate<Timing>("window.__firstRow");
  } finally {
    await page.context().close();
  }
}

/** Opens the list, goes `depth` pages in, then times `rounds` more "Next page" clicks. */
async function nextPages(browser: Browser, url: string, depth: number): Promise<Timing[]> {
  const page: Page = await newPage(browser);
  await page.goto(`${url}#/`);
  await page.waitForSelector("tr[data-model-id]");
  for (let i = 0; i < depth; i++) await page.evaluate(nextPageProbe);
  const timings: Timing[] = [];
  for (let i = 0; i < rounds; i++) timings.push(await page.evaluate<Timing>(nextPageProbe));
  await page.context().close();
  return timings;
}

/** The REST API's first page alone (no browser), for splitting server from page time. */
async function apiFirstPage(url: string): Promise<Timing[]> {
  const timings: Timing[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const response = await fetch(`${url}api/v1/models?pageSize=50`);
    await response.json();
    const ms = performance.now() - started;
    timings.push({ inserted: ms, painted: ms });
  }
  return timings;
}

async function measureSize(
  browser: Browser,
  size: number,
): Promise<{ series: Series[]; seedSeconds: number }> {
  const seeded = await seedRegistryFile(size);
  const stack = await startUiStack({ databasePath: seeded.path });
  try {
    const filter = `#/?filter=${encodeURIComponent('framework = "pytorch"')}`;
    await coldLoad(browser, stack.url, "#/"); // warms the server (statement cache, page files in the OS cache)
    const series: Series[] = [
      { size, scenario: "REST first page (no browser)", timings: await apiFirstPage(stack.url) },
      { size, scenario: "first page, cold", timings: [] },
      { size, scenario: 'filtered first page (framework = "pytorch"), cold', timings: [] },
      {
        size,
        scenario: '"Next page" deep in the list',
        timings: await nextPages(browser, stack.url, depthAt(size)),
      },
    ];
    for (let i = 0; i < rounds; i++) {
      series[1]?.timings.push(await coldLoad(browser, stack.url, "#/"));
      series[2]?.timings.push(await coldLoad(browser, stack.url, filter));
    }
    return { series, seedSeconds: seeded.seedSeconds };
  } finally {
    await stack.close();
    rmSync(seeded.dir, { recursive: true, force: true });
  }
}

const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);
const ms = (value: number) => `${value.toFixed(0)} ms`;

function row(series: Series, base: Series | undefined): string {
  const painted = sorted(series.timings.map((t) => t.painted));
  const inserted = sorted(series.timings.map((t) => t.inserted));
  const median = quantile(painted, 0.5);
  const ratio =
    base === undefined
      ? ""
      : `${(median / quantile(sorted(base.timings.map((t) => t.painted)), 0.5)).toFixed(2)}x`;
  return `| ${series.size.toLocaleString("en")} | ${series.scenario} | ${ms(quantile(inserted, 0.5))} | ${ms(median)} | ${ms(quantile(painted, 0.95))} | ${ms(painted[0] ?? Number.NaN)}-${ms(painted.at(-1) ?? Number.NaN)} | ${ratio} |`;
}

/** The goal's check, as a sentence: the cold first page at 100,000 models (or the largest size measured). */
function verdict(all: Series[]): string {
  const cold = all.filter((s) => s.scenario === "first page, cold");
  const at = cold.find((s) => s.size === 100_000) ?? cold.at(-1);
  if (at === undefined) return "";
  const painted = sorted(at.timings.map((t) => t.painted));
  const [median, p95] = [quantile(painted, 0.5), quantile(painted, 0.95)];
  const met =
    p95 < 1000 ? "met (p95 included)" : median < 1000 ? "met by the median, not by the p95" : "NOT met";
  return `At ${at.size.toLocaleString("en")} models the cold first page painted in ${ms(median)} (median), ${ms(p95)} (p95): the goal is ${met}.`;
}

/** The cold loads' phases (medians): where the first page's time goes. */
function phaseRows(all: Series[]): string {
  const med = (values: number[]) => ms(quantile(sorted(values.filter(Number.isFinite)), 0.5));
  return all
    .filter((s) => s.timings.some((t) => t.phases !== undefined))
    .map((s) => {
      const phases = s.timings.flatMap((t) => (t.phases === undefined ? [] : [t.phases]));
      const api = phases.map((p) => p.apiEnd - p.apiStart);
      return `| ${s.size.toLocaleString("en")} | ${s.scenario} | ${med(phases.map((p) => p.domContentLoaded))} | ${med(phases.map((p) => p.apiStart))} | ${med(api)} | ${med(s.timings.map((t) => t.painted))} |`;
    })
    .join("\n");
}

function report(all: Series[], seeds: Map<number, number>, browserVersion: string): string {
  const smallest = Math.min(...sizes);
  const lines = all.map((s) =>
    row(
      s,
      s.size === smallest ? undefined : all.find((b) => b.size === smallest && b.scenario === s.scenario),
    ),
  );
  const seeded = [...seeds]
    .map(([size, s]) => `${size.toLocaleString("en")} in ${s.toFixed(1)} s`)
    .join(", ");
  return `# The web page at scale (issue 18)

${new Date().toISOString()}; Chromium ${browserVersion} headless (Debian's, via playwright-core), ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${rounds} rounds per row. Reproduce: \`npm run bench:ui\` (\`UI_BENCH_SIZES\`, \`UI_BENCH_ROUNDS\`, \`UI_BENCH_DEPTH\` vary it).

**Goal: the list's first page in under 1 s at 100,000 models.** The "painted" column is the number to compare with it.
${verdict(all)}

| models | what | first row in DOM (median) | painted (median) | painted (p95) | painted (range) | vs ${smallest.toLocaleString("en")} (median) |
|--:|---|--:|--:|--:|--:|--:|
${lines.join("\n")}

Where a cold load's time goes (medians, ms since navigation start; from the Navigation and Resource Timing
entries the page records itself):

| models | what | DOMContentLoaded | list API call starts | API call takes | painted |
|--:|---|--:|--:|--:|--:|
${phaseRows(all)}

## Method
- Each size is its own SQLite file (WAL): the registry's migrations make the schema, then SQL fills it
  (\`bench/src/ui-seed.ts\`: 1,000 names x versions, four frameworks a quarter each, two tags and two metadata
  entries per model; seeded ${seeded}). The real stack serves it (\`startUiStack\` of
  packages/registry-ui/test/support/stack.ts: the registry over a socket, the REST gateway and the page on one
  Express app on 127.0.0.1), the page's default page size (50).
- **Cold loads**: every round is a new browser context (empty HTTP cache, no storage) that navigates to the page.
  A script injected before the page's own (\`addInitScript\`) watches the DOM: "first row in DOM" is
  \`performance.now()\` (milliseconds since the navigation started) when the first \`tr[data-model-id]\` is inserted;
  "painted" is the time after the next animation frame (\`requestAnimationFrame\` + a task), i.e. once that frame
  was rendered. It includes fetching index.html and the bundle, running it, the API call (gateway -> gRPC ->
  SQLite keyset page) and rendering the 50 rows. One unmeasured load first warms the server.
- **Filtered**: the same with the hash \`#/?filter=framework = "pytorch"\` (a quarter of the rows match).
- **"Next page" deep in the list**: one page clicks "Next page" ${sizes.map((n) => `${depthAt(n)} times (${n.toLocaleString("en")} models)`).join(", ")}, then each measured round is one more click:
  from the click (in the page) to the first row being another model, and to the frame after. Keyset paging: the
  depth should not change it.
- **REST first page**: \`GET /api/v1/models?pageSize=50\` from Node (no browser), to tell the server's share.
- Loads that timed out (30 s) and were tried again: ${retried}.
- Ratios compare medians with the smallest size; near 1 means the page does not slow down as the registry grows.
  The machine is shared (other processes, other browsers): rounds vary by a few hundred ms, more than the sizes
  differ, so a ratio below 1 is noise, not a faster large registry.
`;
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  const all: Series[] = [];
  const seeds = new Map<number, number>();
  try {
    for (const size of sizes) {
      process.stdout.write(`seeding and measuring ${size.toLocaleString("en")} models...\n`);
      const { series, seedSeconds } = await measureSize(browser, size);
      seeds.set(size, seedSeconds);
      all.push(...series);
    }
    const text = report(all, seeds, browser.version());
    writeFileSync(resultsFile, text);
    process.stdout.write(text);
  } finally {
    await browser.close();
  }
}

await main();
