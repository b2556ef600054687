// The acceptance, in headless Chromium on the real stack (registry on SQLite over a socket,
// the REST gateway, the page): each test is one user's story. Screenshots go to
// test-output/screenshots/; docs/screenshots/{list,model}.png are copies of list.png and model.png.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Model } from "@modelreg/proto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuiltPage } from "./support/build";
import { createAll, listModels, pytorchProd, richModel } from "./support/seed";
import {
  launchChromium,
  newPage,
  requireChromium,
  startSecuredStack,
  startUiStack,
  type UiStack,
} from "./support/stack";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const shots = join(packageDir, "test-output", "screenshots");
const hasChromium = await requireChromium("packages/registry-ui/test/e2e.test.ts");
const policy = { protectedAliases: { production: { metadata: { "eval.passed": "true" } } } };
const T = 30_000;

let browser: Browser;
let stack: UiStack;
let seeded: Model[];
let fraud: Model[];

beforeAll(async () => {
  if (!hasChromium) return;
  requireBuiltPage();
  mkdirSync(shots, { recursive: true });
  stack = await startUiStack({ registry: { aliasPolicy: policy }, ui: { pageSize: 10 } });
  seeded = await createAll(stack.client, listModels());
  const v1 = await stack.client.createModel({ model: richModel("fraud", "1.0.0", seeded[0]?.id) });
  const v2 = await stack.client.createModel({ model: richModel("fraud", "2.0.0", v1.id) });
  fraud = [v1, v2];
  await stack.client.setModelAlias({ name: "fraud", alias: "champion", version: "1.0.0" });
  await stack.client.setModelAlias({ name: "fraud", alias: "production", version: "1.0.0" });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A new page (its own browser context) at `hash` of a stack; its locators wait up to 10 s. */
async function open(hash: string, viewport: "desktop" | "phone" = "desktop", at = stack): Promise<Page> {
  const page = await newPage(browser, viewport);
  page.setDefaultTimeout(10_000);
  await page.goto(`${at.url}${hash}`);
  return page;
}

const rows = (page: Page) => page.getByRole("table", { name: "Models" }).locator("tr[data-model-id]");
const rowIds = (page: Page) =>
  rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-model-id")));
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const idOf = (m: Model | undefined): string => m?.id ?? "";

/** In the page: the controls (inputs, selects, text areas, buttons) without an accessible name. */
const unnamedControls = `[...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => el.type !== "hidden")
  .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby") && !el.getAttribute("title")
    && !(el.tagName === "BUTTON" && el.textContent.trim() !== ""))
  .map((el) => el.outerHTML.slice(0, 120))`;

/** In the page: what has the focus, by label (or "model link" for a model's link in the list). */
const focusedControl = `(() => {
  const el = document.activeElement;
  if (el === null) return "";
  if (el.tagName === "A" && el.closest("tr[data-model-id]")) return "model link";
  return el.labels?.[0]?.textContent?.trim() ?? el.textContent?.trim() ?? el.tagName;
})()`;

interface ApiErrorBody {
  error: { message: string; details?: { violations?: { description: string }[] }[] };
}

/** The gateway's JSON error for a request, as any other client of the REST API gets it: message, violations. */
async function apiError(
  path: string,
  init?: RequestInit,
): Promise<{ message: string; violations: string[] }> {
  const response = await fetch(`${stack.url}${path}`, init);
  const { error } = (await response.json()) as ApiErrorBody;
  const violations = (error.details ?? []).flatMap((d) => (d.violations ?? []).map((v) => v.description));
  return { message: error.message, violations };
}

const apiMessage = async (path: string): Promise<string> => (await apiError(path)).message;

describe.skipIf(!hasChromium)("the registry's web page in Chromium", () => {
  it(
    "search with a filter shows exactly the matching models; a bad filter shows the API's message and keeps them",
    async () => {
      const page = await open("#/");
      await expect.poll(() => rows(page).count()).toBe(10);
      await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "Live" }).waitFor();
      await shot(page, "list");

      const expected = pytorchProd(listModels());
      await page.getByLabel("Filter").fill('framework = "pytorch" AND tags:prod');
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => rows(page).count()).toBe(expected.length);
      const names = await rows(page).getByRole("link").allTextContents();
      expect(names.sort()).toEqual(expected.map((m) => m.name).sort());
      const hash = await page.evaluate<string>("location.hash");
      const query = new URLSearchParams(hash.slice(hash.indexOf("?") + 1));
      expect(query.get("filter")).toBe('framework = "pytorch" AND tags:prod');
      const ids = await rowIds(page);

      const bad = 'framework = "pytorch" AND';
      await page.getByLabel("Filter").fill(bad);
      await page.getByRole("button", { name: "Search" }).click();
      const alert = page.locator("#filter-error");
      await alert.waitFor();
      expect(await alert.getAttribute("role")).toBe("alert");
      const message = await apiMessage(`api/v1/models?filter=${encodeURIComponent(bad)}`);
      await expect.poll(() => alert.textContent()).toContain(message);
      const input = page.getByLabel("Filter");
      expect(await input.getAttribute("aria-invalid")).toBe("true");
      expect(await input.getAttribute("aria-describedby")).toContain("filter-error");
      expect(await rowIds(page)).toEqual(ids);
      await shot(page, "list-filter-error");
      await page.context().close();
    },
    T,
  );

  it(
    "pages through the list with keyset tokens, forwards and back",
    async () => {
      const page = await open("#/");
      await expect.poll(() => rows(page).count()).toBe(10);
      const first = await rowIds(page);
      const previous = page.getByRole("button", { name: "Previous page" });
      expect(await previous.isDisabled()).toBe(true);
      await page.getByRole("button", { name: "Next page" }).click();
      await page.getByText("Page 2").waitFor();
      await expect.poll(() => rowIds(page)).not.toEqual(first);
      const second = await rowIds(page);
      expect(second.filter((id) => first.includes(id))).toEqual([]);
      await previous.click();
      await page.getByText("Page 1").waitFor();
      await expect.poll(() => rowIds(page)).toEqual(first);
      await page.context().close();
    },
    T,
  );

  it(
    "opens a model from the list: its details, and two versions side by side",
    async () => {
      const page = await open(`#/?filter=${encodeURIComponent('name = "fraud"')}`);
      await expect.poll(() => rows(page).count()).toBe(2);
      await page
        .locator(`tr[data-model-id="${idOf(fraud[1])}"]`)
        .getByRole("link", { name: "fraud" })
        .click();
      await page.getByRole("heading", { level: 1, name: "fraud 2.0.0" }).waitFor();
      expect(await page.evaluate<string>("location.hash")).toBe(`#/models/${idOf(fraud[1])}`);

      const details = page.getByRole("region", { name: "Details" });
      const text = (await details.textContent()) ?? "";
      for (const shown of ["candidate", "eval.auc", "0.93", "mlflow://runs/fraud-2.0.0", "git:200f00d"]) {
        expect(text).toContain(shown);
      }
      expect(text).toContain(fraud[1]?.artifactDigest);
      expect(text).toContain("s3://data/fraud/train-2026-11");
      const parent = details.locator(`a[href="#/models/${idOf(fraud[0])}"]`);
      expect(await parent.count()).toBe(1);

      const versions = page.getByRole("table", { name: "Versions" });
      await expect.poll(() => versions.locator("tr[data-model-id]").count()).toBe(2);
      const current = versions.locator(`tr[data-model-id="${idOf(fraud[1])}"]`);
      expect(await current.getAttribute("aria-current")).toBe("page");
      await page.getByLabel("Compare 1.0.0").check();
      await page.getByLabel("Compare 2.0.0").check();
      const comparison = page.getByRole("table", { name: "Comparison" });
      await comparison.waitFor();
      const compared = (await comparison.textContent()) ?? "";
      for (const shown of ["1.0.0", "2.0.0", "0.91", "0.93"]) expect(compared).toContain(shown);
      expect(await comparison.locator('tr[data-differs="true"]').count()).toBeGreaterThan(0);
      const aliases = page.getByRole("table", { name: "Aliases" });
      await expect.poll(async () => (await aliases.textContent()) ?? "").toContain("champion");
      await shot(page, "model");
      await page.context().close();
    },
    T,
  );

  it(
    "promotes an alias with the form (status, alias table, audit trail, it moved), then rolls it back",
    async () => {
      const page = await open(`#/models/${idOf(fraud[1])}`);
      await page.getByRole("heading", { level: 1, name: "fraud 2.0.0" }).waitFor();
      const form = page.getByRole("form", { name: "Promote" });
      await form.getByLabel("Alias").fill("champion");
      await form.getByText("Currently: 1.0.0").waitFor();
      expect(await form.getByLabel("Version").inputValue()).toBe("2.0.0");
      await form.getByRole("button", { name: "Promote" }).click();
      await page.getByRole("status").filter({ hasText: "champion now points at 2.0.0" }).waitFor();

      const row = page
        .getByRole("table", { name: "Aliases" })
        .getByRole("row")
        .filter({ hasText: "champion" });
      await expect.poll(async () => (await row.textContent()) ?? "").toContain("2.0.0");
      const audit = page.getByRole("table", { name: "Audit trail" });
      await expect
        .poll(async () => (await audit.getByRole("row").nth(1).textContent()) ?? "")
        .toMatch(/alias set/i);
      expect((await audit.getByRole("row").nth(1).textContent()) ?? "").toContain("champion");

      const moved = await stack.client.getModelAlias({ name: "fraud", alias: "champion" });
      expect(moved.version).toBe("2.0.0");
      await shot(page, "promoted");

      // The alias's history lists both moves; rolling back puts it where it was, for real.
      await page.getByRole("button", { name: "History of champion" }).click();
      const moves = page.getByRole("list", { name: "History of champion" }).getByRole("listitem");
      await expect.poll(() => moves.count()).toBe(2);
      const texts = await moves.allTextContents();
      expect(
        texts.some((text) => /1\.0\.0.*2\.0\.0/.test(text)),
        texts.join(" | "),
      ).toBe(true);
      await page.getByRole("button", { name: "Roll back champion to 1.0.0" }).click();
      await expect.poll(async () => (await row.getByRole("link").first().textContent()) ?? "").toBe("1.0.0");
      const back = await stack.client.getModelAlias({ name: "fraud", alias: "champion" });
      expect(back.version).toBe("1.0.0");
      await page.context().close();
    },
    T,
  );

  it(
    "shows a refused promotion's reason as the API gives it, and the refusal in the audit trail; nothing moved",
    async () => {
      const page = await open(`#/models/${idOf(fraud[1])}`);
      await page.getByRole("heading", { level: 1, name: "fraud 2.0.0" }).waitFor();
      const form = page.getByRole("form", { name: "Promote" });
      await form.getByLabel("Alias").fill("production");
      await form.getByText("Currently: 1.0.0").waitFor();
      await form.getByRole("button", { name: "Promote" }).click();
      const alert = page.locator("#promote-error");
      await alert.waitFor();
      expect(await alert.getAttribute("role")).toBe("alert");
      const audit = page.getByRole("table", { name: "Audit trail" });
      const refused = audit.getByRole("row").filter({ hasText: "refused" });
      await expect.poll(() => refused.count()).toBeGreaterThan(0);
      const refusedText = (await refused.first().textContent()) ?? "";
      expect(refusedText).toContain("production");
      await page.getByRole("button", { name: "History of production" }).click();
      const moves = page.getByRole("list", { name: "History of production" }).getByRole("listitem");
      await expect.poll(async () => (await moves.allTextContents()).join(" | ")).toContain("refused");
      await shot(page, "promote-refused");

      const alias = await stack.client.getModelAlias({ name: "fraud", alias: "production" });
      expect(alias.version).toBe("1.0.0");
      // The same refusal straight from the REST API (after the page's: it records one more refused entry).
      const { message, violations } = await apiError("api/v1/aliases/production", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "fraud", version: "2.0.0", expectedVersion: "1.0.0" }),
      });
      expect(violations.length).toBeGreaterThan(0);
      expect(violations.join("\n")).toContain('"eval.passed"');
      expect((await alert.textContent()) ?? "").toContain(message);
      expect(await alert.getByRole("listitem").allTextContents()).toEqual(violations);
      expect(refusedText).toContain(message);
      await page.context().close();
    },
    T,
  );

  it(
    "shows changes made through gRPC by another client live: a new model, an update",
    async () => {
      const page = await open("#/");
      await expect.poll(() => rows(page).count()).toBe(10);
      await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "Live" }).waitFor();
      const live = await stack.client.createModel({
        model: { name: "live-llm", version: "0.1.0", framework: "pytorch", tags: ["nlp"] },
      });
      const fresh = page.locator(`tr[data-model-id="${live.id}"]`);
      await fresh.waitFor();
      expect(await fresh.getAttribute("data-live")).toBe("new");
      expect((await fresh.textContent()) ?? "").toContain("new");
      expect((await rowIds(page))[0]).toBe(live.id);

      const visible = (await rowIds(page))[1] ?? "";
      await stack.client.addModelTags({ id: visible, tags: ["hot"] });
      const changed = page.locator(`tr[data-model-id="${visible}"]`);
      await expect.poll(() => changed.getAttribute("data-live")).toBe("changed");
      expect((await changed.textContent()) ?? "").toContain("hot");
      expect((await changed.textContent()) ?? "").toContain("changed");
      await shot(page, "list-live");
      await page.context().close();
    },
    T,
  );

  it(
    "shows a new version of the model's name, created through gRPC, in Versions without a reload",
    async () => {
      const page = await open(`#/models/${idOf(fraud[1])}`);
      const versions = page.getByRole("table", { name: "Versions" });
      await expect.poll(() => versions.locator("tr[data-model-id]").count()).toBe(2);
      await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "Live" }).waitFor();
      const v3 = await stack.client.createModel({ model: richModel("fraud", "3.0.0", idOf(fraud[1])) });
      const row = versions.locator(`tr[data-model-id="${v3.id}"]`);
      await row.waitFor();
      expect(await row.getAttribute("data-live")).toBe("new");
      expect((await row.textContent()) ?? "").toContain("3.0.0");
      await page.context().close();
    },
    T,
  );

  it(
    "says so when a model does not exist",
    async () => {
      const id = "00000000-0000-7000-8000-00000000dead";
      const page = await open(`#/models/${id}`);
      const message = await apiMessage(`api/v1/models/${id}`);
      await page.getByRole("alert").filter({ hasText: message }).waitFor();
      await page.context().close();
    },
    T,
  );

  it(
    "on a phone (390 px) nothing scrolls sideways and every control has a name",
    async () => {
      for (const hash of ["#/", `#/models/${idOf(fraud[1])}`]) {
        const page = await open(hash, "phone");
        await page.locator("tr[data-model-id]").first().waitFor();
        const width = await page.evaluate<{ scroll: number; inner: number }>(
          "({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })",
        );
        expect(width.scroll, `${hash} scrolls sideways`).toBeLessThanOrEqual(width.inner);
        const unnamed = await page.evaluate<string[]>(unnamedControls);
        expect(unnamed, `${hash}: controls without a name`).toEqual([]);
        if (hash === "#/") await shot(page, "phone-list");
        else await shot(page, "phone-model");
        await page.context().close();
      }
    },
    T,
  );

  it(
    "is usable from the keyboard: Tab reaches the filter, Sort, Search and the first model; Enter opens it",
    async () => {
      const page = await open("#/");
      await expect.poll(() => rows(page).count()).toBe(10);
      const reached: string[] = [];
      for (let i = 0; i < 12 && !reached.includes("model link"); i++) {
        await page.keyboard.press("Tab");
        reached.push(await page.evaluate<string>(focusedControl));
      }
      const order = ["Filter", "Sort by", "Search", "model link"].map((what) => reached.indexOf(what));
      expect(
        order.every((at) => at >= 0),
        `reached: ${reached.join(", ")}`,
      ).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      const focused = await page.evaluate<string>("document.activeElement?.textContent ?? ''");
      const outline = await page.evaluate<string>("getComputedStyle(document.activeElement).outlineStyle");
      expect(outline).not.toBe("none");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { level: 1 }).filter({ hasText: focused }).waitFor();
      expect(await page.evaluate<string>("location.hash")).toMatch(/^#\/models\//);
      await page.context().close();
    },
    T,
  );
});

describe.skipIf(!hasChromium)("the web page of a registry with token auth", () => {
  const token = "ana-3243f6a8885a308d313198a2e0370734";
  let secured: UiStack;

  beforeAll(async () => {
    requireBuiltPage();
    secured = await startSecuredStack(token);
  }, 60_000);

  afterAll(async () => {
    await secured?.close();
  });

  it(
    "asks for a token, refuses a wrong one with the API's message, and shows the list with the right one",
    async () => {
      const page = await open("#/", "desktop", secured);
      const dialog = page.getByRole("dialog", { name: "Sign in" });
      await dialog.waitFor();
      await dialog.getByLabel("Token").fill("not-the-right-token");
      await dialog.getByRole("button", { name: "Sign in" }).click();
      const refusal = await fetch(`${secured.url}api/v1/models`, {
        headers: { authorization: "Bearer not-the-right-token" },
      });
      const message = ((await refusal.json()) as { error: { message: string } }).error.message;
      await dialog.getByText(message).waitFor();
      await shot(page, "sign-in");

      await dialog.getByLabel("Token").fill(token);
      await dialog.getByRole("button", { name: "Sign in" }).click();
      await dialog.waitFor({ state: "hidden" });
      await expect.poll(() => rows(page).count()).toBe(3);
      expect(await page.evaluate<string[]>("Object.values(sessionStorage)")).toContain(token);
      await page.context().close();
    },
    T,
  );
});
