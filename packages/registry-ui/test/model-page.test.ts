// The model page (#/models/<id>) in headless Chromium on the real stack: registry on SQLite over a
// socket, the REST gateway, the built page. Changes "made by someone else" go through the registry's
// gRPC client. Each test works on its own model name, so the tests do not see each other's aliases.
import type { Model } from "@modelreg/proto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuiltPage } from "./support/build";
import {
  holdFeed,
  launchChromium,
  newPage,
  requireChromium,
  startUiStack,
  type UiStack,
} from "./support/stack";

const hasChromium = await requireChromium("packages/registry-ui/test/model-page.test.ts");
const policy = { protectedAliases: { production: { metadata: { "eval.passed": "true" } } } };
const T = 45_000;

let browser: Browser;
let stack: UiStack;

beforeAll(async () => {
  if (!hasChromium) return;
  requireBuiltPage();
  stack = await startUiStack({ registry: { aliasPolicy: policy } });
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A version with every field the page shows; only 1.0.0 has passed its evaluation. */
function version(name: string, v: string, parentId?: string): Partial<Model> {
  return {
    name,
    version: v,
    framework: v === "1.0.0" ? "tensorflow" : "pytorch",
    description: `The ${name} classifier, version ${v}.`,
    tags: ["nlp", v === "1.0.0" ? "release" : "candidate"],
    metadata: {
      "eval.auc": v === "1.0.0" ? "0.91" : "0.93",
      ...(v === "1.0.0" ? { "eval.passed": "true" } : {}),
    },
    artifactUri: `s3://models/${name}/${v}/model.pt`,
    artifactDigest: `sha256:${v.replaceAll(".", "").padEnd(64, "c")}`,
    lineage: {
      runUri: `mlflow://runs/${name}-${v}`,
      codeRevision: `git:${v.replaceAll(".", "")}beef`,
      datasetUris: [`s3://data/${name}/train`],
      parentModelIds: parentId === undefined ? [] : [parentId],
    },
  };
}

/** Creates 1.0.0, 1.1.0 and 1.2.0 of `name` (each the parent of the next), oldest first. */
async function seed(name: string): Promise<Model[]> {
  const created: Model[] = [];
  for (const v of ["1.0.0", "1.1.0", "1.2.0"]) {
    created.push(await stack.client.createModel({ model: version(name, v, created.at(-1)?.id) }));
  }
  return created;
}

/** Opens the page of `model` and waits for its heading. */
async function open(model: Model | string, viewport: "desktop" | "phone" = "desktop"): Promise<Page> {
  const page = await newPage(browser, viewport);
  page.setDefaultTimeout(12_000);
  const id = typeof model === "string" ? model : model.id;
  await page.goto(`${stack.url}#/models/${encodeURIComponent(id)}`);
  if (typeof model !== "string") {
    await page.getByRole("heading", { level: 1, name: `${model.name} ${model.version}` }).waitFor();
  }
  return page;
}

const region = (page: Page, name: string) => page.getByRole("region", { name, exact: true });
const versionRows = (page: Page) =>
  page.getByRole("table", { name: "Versions" }).locator("tr[data-model-id]");
const aliasRow = (page: Page, alias: string) =>
  page.getByRole("table", { name: "Aliases" }).locator(`tr[data-alias="${alias}"]`);
const trail = (page: Page) => page.getByRole("table", { name: "Audit trail" });

/** Promotes `version` to `alias` through the form. */
async function promote(page: Page, alias: string, v: string): Promise<void> {
  const form = page.getByRole("form", { name: "Promote" });
  await form.getByLabel("Alias").fill(alias);
  await form.getByLabel("Version").selectOption(v);
  await form.getByRole("button", { name: "Promote" }).click();
}

/**
 * In the page: every visible text whose colour against its nearest opaque background is below
 * WCAG AA (4.5:1, or 3:1 for large text), as "text: ratio".
 */
const lowContrast = `(() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || n.textContent.trim() === "" || el.closest(".mp-visually-hidden")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.getClientRects().length === 0) continue;
    const fg = parse(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.6 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(n.textContent.trim().slice(0, 40) + ": " + ratio.toFixed(2));
  }
  return failures;
})()`;

describe.skipIf(!hasChromium)("the model page", () => {
  it(
    "shows the model's fields, lineage and its versions, newest first, the current one marked",
    async () => {
      const [v1, v2, v3] = await seed("bert");
      const page = await open(v3 as Model);
      const details = region(page, "Details");
      for (const text of [
        "pytorch",
        "The bert classifier, version 1.2.0.",
        "candidate",
        "eval.auc = 0.93",
        "s3://models/bert/1.2.0/model.pt",
        `sha256:120${"c".repeat(61)}`,
        "mlflow://runs/bert-1.2.0",
        "git:120beef",
        "s3://data/bert/train",
      ]) {
        await expect.poll(() => details.textContent()).toContain(text);
      }
      expect(
        await versionRows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-model-id"))),
      ).toEqual([v3?.id, v2?.id, v1?.id]);
      expect(await versionRows(page).first().getAttribute("aria-current")).toBe("page");
      for (const name of ["Details", "Versions", "Aliases", "Promote", "Audit trail"]) {
        await expect.poll(() => region(page, name).count()).toBe(1);
      }
      // The parent model is a link to its page.
      await details.getByRole("link", { name: "bert 1.1.0" }).click();
      await page.getByRole("heading", { level: 1, name: "bert 1.1.0" }).waitFor();
      await page.close();
    },
    T,
  );

  it(
    "compares two checked versions side by side, marking the rows that differ",
    async () => {
      const [, , v3] = await seed("gpt");
      const page = await open(v3 as Model);
      await page.getByLabel("Compare 1.0.0").check();
      expect(await page.getByRole("table", { name: "Comparison" }).count()).toBe(0);
      await page.getByLabel("Compare 1.2.0").check();
      const table = page.getByRole("table", { name: "Comparison" });
      await table.waitFor();
      const headers = await table.locator("thead th").allTextContents();
      expect(headers).toEqual(["Field", "1.2.0", "1.0.0"]);
      const framework = table.locator("tr", { has: page.getByRole("rowheader", { name: /^Framework/ }) });
      expect(await framework.getAttribute("data-differs")).toBe("true");
      expect(await framework.locator("td").allTextContents()).toEqual(["pytorch", "tensorflow"]);
      const passed = table.locator("tr", { has: page.getByRole("rowheader", { name: /eval\.passed/ }) });
      expect(await passed.locator("td").allTextContents()).toEqual(["—", "true"]);
      const runUri = table.locator("tr", { has: page.getByRole("rowheader", { name: /^Datasets/ }) });
      expect(await runUri.getAttribute("data-differs")).toBeNull();
      await page.close();
    },
    T,
  );

  it(
    "promotes a version to a new alias: status, the Aliases table, the versions' aliases and the audit trail",
    async () => {
      const [, , v3] = await seed("resnet");
      const page = await open(v3 as Model);
      await page.getByRole("form", { name: "Promote" }).getByLabel("Alias").fill("staging");
      await page.getByText("New alias").waitFor();
      await promote(page, "staging", "1.2.0");
      await page.getByRole("status").filter({ hasText: "staging now points at 1.2.0" }).waitFor();
      await expect.poll(() => aliasRow(page, "staging").locator("td").first().textContent()).toBe("1.2.0");
      await expect.poll(() => versionRows(page).first().locator("td").nth(2).textContent()).toBe("staging");
      await expect
        .poll(() => trail(page).locator("tbody tr").first().textContent())
        .toContain("alias set staging: (none) -> 1.2.0");
      const moved = await stack.client.getModelAlias({ name: "resnet", alias: "staging" });
      expect(moved.version).toBe("1.2.0");
      await page.close();
    },
    T,
  );

  it(
    "shows a refused promotion's every violation, and the refusal in the audit trail",
    async () => {
      const [, , v3] = await seed("vit");
      const page = await open(v3 as Model);
      await promote(page, "production", "1.2.0");
      const alert = page.locator("#promote-error[role=alert]");
      await alert.waitFor();
      expect(await alert.textContent()).toContain(
        'metadata "eval.passed" is missing; the policy needs eval.passed = "true"',
      );
      await expect.poll(() => aliasRow(page, "production").count()).toBe(0);
      const refused = trail(page).locator('tr[data-refused="true"]').first();
      await expect.poll(() => refused.textContent()).toContain("refused");
      expect(await refused.textContent()).toContain(
        'metadata "eval.passed" is missing; the policy needs eval.passed = "true"',
      );
      // The version that passed its evaluation may be promoted.
      await promote(page, "production", "1.0.0");
      await page.getByRole("status").filter({ hasText: "production now points at 1.0.0" }).waitFor();
      await page.close();
    },
    T,
  );

  it(
    "says so when someone moved the alias meanwhile (compare-and-set), and reloads where it points",
    async () => {
      const [, , v3] = await seed("t5");
      await stack.client.setModelAlias({ name: "t5", alias: "champion", version: "1.0.0" });
      const page = await newPage(browser);
      page.setDefaultTimeout(12_000);
      // The live feed is held back, so the page cannot learn of the move before it submits.
      await page.route("**/api/v1/models:watch*", (route) => route.abort());
      await page.goto(`${stack.url}#/models/${v3?.id}`);
      await aliasRow(page, "champion").waitFor();
      await page.getByRole("form", { name: "Promote" }).getByLabel("Alias").fill("champion");
      await page.getByText("Currently: 1.0.0").waitFor();
      await stack.client.setModelAlias({ name: "t5", alias: "champion", version: "1.1.0" });
      await promote(page, "champion", "1.2.0");
      const alert = page.locator("#promote-error[role=alert]");
      await alert.waitFor();
      const text = await alert.textContent();
      expect(text).toContain("Someone else moved this alias meanwhile");
      expect(text).toContain('points at version "1.1.0", not "1.0.0"');
      await page.getByText("Currently: 1.1.0").waitFor();
      await expect.poll(() => aliasRow(page, "champion").locator("td").first().textContent()).toBe("1.1.0");
      expect((await stack.client.getModelAlias({ name: "t5", alias: "champion" })).version).toBe("1.1.0");
      // Submitting again, now against what it saw last, moves it.
      await page.getByRole("form", { name: "Promote" }).getByRole("button", { name: "Promote" }).click();
      await page.getByRole("status").filter({ hasText: "champion now points at 1.2.0" }).waitFor();
      await page.close();
    },
    T,
  );

  it(
    "lists an alias's moves and rolls it back to the version it pointed at before",
    async () => {
      const [, , v3] = await seed("xgb");
      await stack.client.setModelAlias({ name: "xgb", alias: "canary", version: "1.0.0" });
      await stack.client.setModelAlias({ name: "xgb", alias: "canary", version: "1.1.0" });
      const page = await open(v3 as Model);
      await page.getByRole("button", { name: "History of canary" }).click();
      const moves = page.getByRole("list", { name: "History of canary" }).getByRole("listitem");
      await expect.poll(() => moves.allTextContents()).toHaveLength(2);
      expect(await moves.first().textContent()).toContain("1.0.0 → 1.1.0");
      expect(await moves.nth(1).textContent()).toContain("(none) → 1.0.0");
      await page.getByRole("button", { name: "Roll back canary to 1.0.0" }).click();
      await page.getByRole("status").filter({ hasText: "canary now points at 1.0.0" }).waitFor();
      await expect.poll(() => aliasRow(page, "canary").locator("td").first().textContent()).toBe("1.0.0");
      expect((await stack.client.getModelAlias({ name: "xgb", alias: "canary" })).version).toBe("1.0.0");
      await expect.poll(() => moves.allTextContents()).toHaveLength(3);
      await page.close();
    },
    T,
  );

  it(
    "shows a version created elsewhere live, and marks the details changed by someone else",
    async () => {
      const [, , v3] = await seed("llama");
      const page = await open(v3 as Model);
      await page.locator('[role=status][data-state="live"]').waitFor({ timeout: 10_000 });
      const created = await stack.client.createModel({ model: version("llama", "2.0.0", v3?.id) });
      const row = page.locator(`tr[data-model-id="${created.id}"]`);
      await row.waitFor();
      expect(await row.getAttribute("data-live")).toBe("new");
      expect(await row.textContent()).toContain("new");
      expect(await versionRows(page).count()).toBe(4);
      await stack.client.updateModelMetadata({ id: v3?.id ?? "", set: { "eval.passed": "true" } });
      const details = region(page, "Details");
      await expect.poll(() => details.getAttribute("data-live")).toBe("changed");
      expect(await details.textContent()).toContain("eval.passed = true");
      // Deleted elsewhere: the page says so, and the version leaves the table.
      await stack.client.deleteModel({ id: created.id });
      await expect.poll(() => row.count()).toBe(0);
      await stack.client.deleteModel({ id: v3?.id ?? "", force: true });
      await page.getByRole("alert").filter({ hasText: "This version was deleted" }).waitFor();
      await page.close();
    },
    T,
  );

  it(
    "shows a roll back the policy refuses like a refused promotion",
    async () => {
      const [v1, v2, v3] = await seed("gated");
      await stack.client.setModelAlias({ name: "gated", alias: "production", version: "1.0.0" });
      await stack.client.updateModelMetadata({ id: v2?.id ?? "", set: { "eval.passed": "true" } });
      await stack.client.setModelAlias({ name: "gated", alias: "production", version: "1.1.0" });
      // 1.0.0's evaluation is withdrawn after the move: going back to it is refused now.
      await stack.client.updateModelMetadata({ id: v1?.id ?? "", removeKeys: ["eval.passed"] });
      const page = await open(v3 as Model);
      await page.getByRole("button", { name: "Roll back production to 1.0.0" }).click();
      const alert = page.locator("#rollback-error-production[role=alert]");
      await alert.waitFor();
      expect(await alert.textContent()).toContain('metadata "eval.passed" is missing');
      expect(await aliasRow(page, "production").locator("td").first().textContent()).toBe("1.1.0");
      await expect
        .poll(() => trail(page).locator('tr[data-refused="true"]').first().textContent())
        .toContain("alias set production: 1.1.0 -> 1.0.0");
      await page.close();
    },
    T,
  );

  it("lists the newest 200 of many versions, and all of them on request", async () => {
    let last: Model | undefined;
    for (let i = 0; i < 205; i++) {
      last = await stack.client.createModel({ model: { name: "many", version: `0.${i}.0` } });
    }
    const page = await open(last as Model);
    await expect.poll(() => versionRows(page).count()).toBe(200);
    expect(await versionRows(page).last().textContent()).toContain("0.5.0");
    await page.getByRole("button", { name: "Show all 205" }).click();
    await expect.poll(() => versionRows(page).count()).toBe(205);
    expect(
      await page.getByRole("form", { name: "Promote" }).getByLabel("Version").locator("option").count(),
    ).toBe(205);
    await page.close();
  }, 60_000);

  it(
    "pages through a long audit trail with Load more, newest first",
    async () => {
      const [, , v3] = await seed("audited");
      for (let i = 1; i <= 55; i++) {
        await stack.client.updateModelMetadata({ id: v3?.id ?? "", set: { step: String(i) } });
      }
      const page = await open(v3 as Model);
      const rows = trail(page).locator("tbody tr");
      await expect.poll(() => rows.count()).toBe(50);
      expect(await rows.first().textContent()).toContain("updated 1.2.0");
      await page.getByRole("button", { name: "Load more" }).click();
      await expect.poll(() => rows.count()).toBe(58);
      expect(await rows.last().textContent()).toContain("created 1.0.0");
      expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
      await page.close();
    },
    T,
  );

  it(
    "keeps what Load more added through a burst of live changes, reloading the trail a few times, not per change",
    async () => {
      const [, , v3] = await seed("bursty");
      const id = v3?.id ?? "";
      for (let i = 1; i <= 55; i++) await stack.client.updateModelMetadata({ id, set: { step: String(i) } });
      const page = await open(v3 as Model);
      await page.locator('[role=status][data-state="live"]').waitFor({ timeout: 10_000 });
      const rows = trail(page).locator("tbody tr");
      await expect.poll(() => rows.count()).toBe(50);
      await page.getByRole("button", { name: "Load more" }).click();
      await expect.poll(() => rows.count()).toBe(58);
      const historyReads: string[] = [];
      page.on("request", (request) => {
        if (request.url().includes("/api/v1/history")) historyReads.push(request.url());
      });
      // 60 changes by someone else, as fast as gRPC takes them.
      const start = Date.now();
      for (let i = 0; i < 30; i++) {
        await stack.client.addModelTags({ id, tags: ["burst"] });
        await stack.client.removeModelTags({ id, tags: ["burst"] });
      }
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(118);
      const reads = historyReads.length;
      const elapsed = Date.now() - start;
      expect(await rows.first().textContent()).toContain("updated 1.2.0");
      expect(await rows.last().textContent()).toContain("created 1.0.0");
      const revisions = await rows.evaluateAll((trs) =>
        trs.map((tr) => Number(tr.getAttribute("data-revision"))),
      );
      expect(revisions).toEqual([...revisions].sort((a, b) => b - a));
      expect(new Set(revisions).size).toBe(118);
      // A reload at most every 500 ms, each reading one page back to the newest row shown (two once,
      // should 50 changes come between two reloads): not one read per change.
      expect(reads, `${reads} reads in ${elapsed} ms`).toBeLessThanOrEqual(Math.ceil(elapsed / 500) + 3);
      expect(reads).toBeLessThan(60);
      await page.close();
    },
    T,
  );

  it(
    "shows a version created while the name's live feed was still opening: its parts are read once it is open",
    async () => {
      const [, , v3] = await seed("late-feed");
      const page = await newPage(browser);
      page.setDefaultTimeout(12_000);
      // The feed's request is held back: the registry registers the watch only once it is let through.
      const feed = await holdFeed(page);
      await page.goto(`${stack.url}#/models/${v3?.id}`);
      await feed.asked;
      const late = await stack.client.createModel({ model: version("late-feed", "1.3.0", v3?.id) });
      // Versions read with the feed's request (the old way) would have been asked for by now; the page
      // waits for the feed (2 s at most).
      expect(feed.reads(), "versions read before the feed opened").toBe(0);
      feed.release();
      await page.locator('[role=status][data-state="live"]').waitFor({ timeout: 10_000 });
      await page.getByRole("table", { name: "Versions" }).locator(`tr[data-model-id="${late.id}"]`).waitFor();
      await expect.poll(() => versionRows(page).count()).toBe(4);
      await expect
        .poll(() => trail(page).locator("tbody tr").first().textContent())
        .toContain("created 1.3.0");
      await page.close();
    },
    T,
  );

  it(
    "keeps a change that came over the feed while the versions were still loading",
    async () => {
      const [, , v3] = await seed("slow-versions");
      const page = await newPage(browser);
      page.setDefaultTimeout(12_000);
      // The versions' answer is read, then held until a version has been created after it.
      const held: (() => Promise<void>)[] = [];
      let arrived = () => {};
      const read = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      let holding = true;
      await page.route(
        (url) => url.pathname.endsWith("/api/v1/models"),
        async (route) => {
          if (!holding) return route.continue();
          const response = await route.fetch();
          held.push(() => route.fulfill({ response }));
          arrived();
        },
      );
      await page.goto(`${stack.url}#/models/${v3?.id}`);
      await read;
      const late = await stack.client.createModel({ model: version("slow-versions", "1.3.0", v3?.id) });
      // Its event reaches the page before the (older) versions do.
      await page.waitForTimeout(500);
      holding = false;
      await Promise.all(held.map((fulfill) => fulfill()));
      const row = page.getByRole("table", { name: "Versions" }).locator(`tr[data-model-id="${late.id}"]`);
      await row.waitFor();
      expect(await row.getAttribute("data-live")).toBe("new");
      await expect.poll(() => versionRows(page).count()).toBe(4);
      await page.close();
    },
    T,
  );

  it(
    "keeps the promote in the audit trail when the trail's first read answers after the reload",
    async () => {
      const [, , v3] = await seed("late-trail");
      const page = await newPage(browser);
      page.setDefaultTimeout(12_000);
      // The trail's first read is answered last, after the reload that follows the promote.
      let answerFirst: (() => Promise<void>) | undefined;
      await page.route(
        (url) => url.pathname.endsWith("/api/v1/history"),
        async (route) => {
          if (answerFirst !== undefined) return route.continue();
          const response = await route.fetch();
          answerFirst = () => route.fulfill({ response });
        },
      );
      await page.goto(`${stack.url}#/models/${v3?.id}`);
      await page.locator('[role=status][data-state="live"]').waitFor({ timeout: 10_000 });
      await expect.poll(() => answerFirst !== undefined).toBe(true);
      await promote(page, "champion", "1.2.0");
      await page.getByRole("status").filter({ hasText: "champion now points at 1.2.0" }).waitFor();
      const newest = trail(page).locator("tbody tr").first();
      await expect.poll(() => newest.textContent()).toContain("champion");
      await answerFirst?.();
      await page.waitForTimeout(500);
      expect(await newest.textContent()).toContain("champion");
      await page.close();
    },
    T,
  );

  it(
    "answers a retried promote whose answer was lost as done, not as someone else's move",
    async () => {
      const [, , v3] = await seed("lossy");
      await stack.client.setModelAlias({ name: "lossy", alias: "staging", version: "1.0.0" });
      const page = await open(v3 as Model);
      await aliasRow(page, "staging").waitFor();
      // The first PUT reaches the registry, but its answer is lost; the network stays too flaky to
      // reload the aliases, so the form still expects staging at 1.0.0 when the user tries again.
      let puts = 0;
      let flaky = false;
      await page.route(
        (url) => url.pathname.startsWith("/api/v1/aliases"),
        async (route) => {
          if (route.request().method() === "PUT" && puts++ === 0) {
            await route.fetch();
            flaky = true;
            return route.abort("connectionreset");
          }
          if (flaky && route.request().method() === "GET") return route.abort("internetdisconnected");
          return route.continue();
        },
      );
      await promote(page, "staging", "1.1.0");
      const alert = page.locator("#promote-error[role=alert]");
      await alert.waitFor();
      expect(await alert.textContent()).toContain("cannot be reached");
      const saved = await stack.client.getModelAlias({ name: "lossy", alias: "staging" });
      expect(saved.version).toBe("1.1.0");
      await page.getByRole("form", { name: "Promote" }).getByRole("button", { name: "Promote" }).click();
      await page.locator(".mp-status").filter({ hasText: "staging now points at 1.1.0" }).waitFor();
      expect(await alert.count()).toBe(0);
      expect(puts).toBe(2);
      // One move in the trail, nothing refused.
      await expect
        .poll(() =>
          trail(page).locator("tbody tr").filter({ hasText: "alias set staging: 1.0.0 -> 1.1.0" }).count(),
        )
        .toBe(1);
      expect(await trail(page).locator('tr[data-refused="true"]').count()).toBe(0);
      await page.close();
    },
    T,
  );

  it(
    "keeps text readable (contrast >= 4.5:1) in light and dark, and every control reachable by keyboard",
    async () => {
      const [, , v3] = await seed("contrast");
      await stack.client.setModelAlias({ name: "contrast", alias: "canary", version: "1.0.0" });
      await stack.client.setModelAlias({ name: "contrast", alias: "canary", version: "1.1.0" });
      // A refused move, so the trail shows the "refused" badge too.
      await expect(
        stack.client.setModelAlias({ name: "contrast", alias: "production", version: "1.2.0" }),
      ).rejects.toThrow(/eval\.passed/);
      const page = await open(v3 as Model);
      await page.getByLabel("Compare 1.0.0").check();
      await page.getByLabel("Compare 1.2.0").check();
      await page.getByRole("button", { name: "History of canary" }).click();
      await page.getByRole("list", { name: "History of canary" }).waitFor();
      await stack.client.createModel({ model: version("contrast", "2.0.0") });
      await page.locator('tr[data-live="new"]').waitFor();
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        expect(await page.evaluate<string[]>(lowContrast), colorScheme).toEqual([]);
      }
      // Tab reaches the promote form's controls, and the focused control is visibly outlined.
      await page.getByRole("form", { name: "Promote" }).getByLabel("Alias").focus();
      await page.keyboard.press("Tab");
      const focused = await page.evaluate<string[]>(
        "[document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]",
      );
      expect(focused[0]).toBe("promote-version");
      expect(focused[1]).not.toBe("none");
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Promote");
      await page.close();
    },
    T,
  );

  it(
    "shows the API's message for a model that does not exist",
    async () => {
      const page = await open("no-such-model");
      const alert = page.getByRole("alert");
      await alert.waitFor();
      expect(await alert.textContent()).toContain('Model "no-such-model" not found.');
      await page.close();
    },
    T,
  );

  it(
    "fits a phone: nothing scrolls sideways but the tables in their own box",
    async () => {
      const [, , v3] = await seed("phone-model");
      const page = await open(v3 as Model, "phone");
      await page.getByLabel("Compare 1.0.0").check();
      await page.getByLabel("Compare 1.1.0").check();
      await page.getByRole("table", { name: "Comparison" }).waitFor();
      await page.getByRole("table", { name: "Audit trail" }).waitFor();
      const width = await page.evaluate<number>("document.documentElement.scrollWidth");
      expect(width).toBeLessThanOrEqual(390);
      await page.close();
    },
    T,
  );
});
