// The list page in headless Chromium on the real stack (registry on SQLite over a socket, the REST
// gateway, the page): search, the API's inline filter error, keyset paging, live marks, the phone width.
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

const hasChromium = await requireChromium("packages/registry-ui/test/list.test.ts");
const T = 30_000;

let browser: Browser;
let stack: UiStack;
/** The seeded models, oldest first. */
const seeded: Model[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  requireBuiltPage();
  stack = await startUiStack({ ui: { pageSize: 4 } });
  const frameworks = ["pytorch", "onnx", "jax"];
  for (let i = 0; i < 9; i++) {
    seeded.push(
      await stack.client.createModel({
        model: {
          name: `listed-${String(i).padStart(2, "0")}`,
          version: "1.0.0",
          framework: frameworks[i % 3] ?? "pytorch",
          tags: i % 2 === 0 ? ["prod"] : ["staging"],
        },
      }),
    );
  }
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const table = (page: Page) => page.getByRole("table", { name: "Models" });
const rows = (page: Page) => table(page).locator("tr[data-model-id]");
const names = (page: Page) => rows(page).getByRole("link").allTextContents();
const live = (page: Page) => page.getByRole("status", { name: "Live updates" });

/** The list at `hash`, once the live feed is up and its first page is shown (read after the feed opened). */
async function open(hash = "#/", viewport: "desktop" | "phone" = "desktop"): Promise<Page> {
  const page = await newPage(browser, viewport);
  await page.goto(`${stack.url}${hash}`);
  await live(page)
    .filter({ hasText: /^Live$/ })
    .waitFor({ timeout: T });
  await expect.poll(() => table(page).getAttribute("aria-busy"), { timeout: T }).toBe("false");
  return page;
}

describe.skipIf(!hasChromium)("the list page", () => {
  it(
    "shows the newest models first, searches with a filter, and keeps the search in the address",
    async () => {
      const page = await open();
      expect(await names(page)).toEqual(["listed-08", "listed-07", "listed-06", "listed-05"]);
      expect(await page.title()).toBe("Models · modelreg");
      await page.getByLabel("Filter").fill('framework = "pytorch" AND tags:prod');
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => names(page)).toEqual(["listed-06", "listed-00"]);
      expect(decodeURIComponent(new URL(page.url()).hash)).toBe(
        '#/?filter=framework+=+"pytorch"+AND+tags:prod',
      );
      // A linkable search: the same address in a new tab shows the same rows.
      const again = await open(new URL(page.url()).hash);
      expect(await names(again)).toEqual(["listed-06", "listed-00"]);
      await page.getByLabel("Filter").fill('name = "nothing-*"');
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByText("No models match").waitFor();
      expect(await rows(page).count()).toBe(0);
    },
    T * 2,
  );

  it(
    "shows a bad filter's error from the API under the input, and keeps the previous results",
    async () => {
      const page = await open();
      const before = await names(page);
      const bad = 'framework = "pytorch" AND';
      const response = await fetch(`${stack.url}api/v1/models?filter=${encodeURIComponent(bad)}`);
      const { error } = (await response.json()) as { error: { message: string } };
      await page.getByLabel("Filter").fill(bad);
      await page.getByRole("button", { name: "Search" }).click();
      const alert = page.locator("#filter-error");
      await alert.waitFor();
      expect(await alert.getAttribute("role")).toBe("alert");
      expect(await alert.locator(".error-message").textContent()).toBe(error.message);
      const input = page.getByLabel("Filter");
      expect(await input.getAttribute("aria-invalid")).toBe("true");
      expect(await input.getAttribute("aria-describedby")).toBe("filter-error");
      expect(await names(page)).toEqual(before);
      // Search again, unchanged: the bad filter is asked for again (not the rows shown), and refused again.
      const asked: string[] = [];
      page.on("request", (request) => {
        const url = new URL(request.url());
        if (url.pathname.endsWith("/api/v1/models")) asked.push(url.searchParams.get("filter") ?? "");
      });
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => asked).toEqual([bad]);
      await alert.filter({ hasText: error.message }).waitFor();
      expect(await names(page)).toEqual(before);
      // Opened at a bad filter's address: the error, no rows, and the live feed still up.
      const direct = await newPage(browser);
      await direct.goto(`${stack.url}#/?filter=${encodeURIComponent(bad)}`);
      await direct.locator("#filter-error").filter({ hasText: error.message }).waitFor();
      await live(direct)
        .filter({ hasText: /^Live$/ })
        .waitFor({ timeout: T });
      expect(await rows(direct).count()).toBe(0);
      await direct.context().close();
      // Fixing it clears the error.
      await input.fill("tags:staging");
      await page.getByRole("button", { name: "Search" }).click();
      await expect.poll(() => names(page)).toEqual(["listed-07", "listed-05", "listed-03", "listed-01"]);
      expect(await page.locator("#filter-error").count()).toBe(0);
      expect(await input.getAttribute("aria-invalid")).toBeNull();
    },
    T,
  );

  it(
    "pages forward and back with keyset tokens; the buttons are disabled at the ends",
    async () => {
      const page = await open("#/?orderBy=name");
      const previous = page.getByRole("button", { name: "Previous page" });
      const next = page.getByRole("button", { name: "Next page" });
      expect(await page.getByLabel("Sort by").inputValue()).toBe("name");
      await page.getByText("Page 1").waitFor();
      expect(await previous.isDisabled()).toBe(true);
      const first = await names(page);
      expect(first[0]).toBe("listed-00");
      await next.click();
      await page.getByText("Page 2").waitFor();
      await expect.poll(() => names(page)).toEqual(["listed-04", "listed-05", "listed-06", "listed-07"]);
      await next.click();
      await page.getByText("Page 3").waitFor();
      await expect.poll(() => names(page)).toEqual(["listed-08"]);
      expect(await next.isDisabled()).toBe(true);
      // From the keyboard: at the last page the focus moves to "Previous page", Enter goes back.
      await expect
        .poll(() => page.evaluate<string>("document.activeElement?.textContent ?? ''"))
        .toBe("Previous page");
      await page.keyboard.press("Enter");
      await page.getByText("Page 2").waitFor();
      await next.focus();
      await page.keyboard.press("Enter");
      await page.getByText("Page 3").waitFor();
      await previous.click();
      await page.getByText("Page 2").waitFor();
      await previous.click();
      await page.getByText("Page 1").waitFor();
      await expect.poll(() => names(page)).toEqual(first);
      expect(await previous.isDisabled()).toBe(true);
    },
    T,
  );

  it(
    "sorts by the select and narrows by a framework chip",
    async () => {
      const page = await open();
      await page.getByLabel("Sort by").selectOption("name desc");
      await expect.poll(() => names(page)).toEqual(["listed-08", "listed-07", "listed-06", "listed-05"]);
      expect(new URL(page.url()).hash).toContain("orderBy=name+desc");
      await rows(page).first().getByRole("button", { name: "jax" }).click();
      await expect.poll(() => names(page)).toEqual(["listed-08", "listed-05", "listed-02"]);
      expect(await page.getByLabel("Filter").inputValue()).toBe('framework = "jax"');
    },
    T,
  );

  it(
    "marks, live, a model created by another client as new and one it updates or deletes",
    async () => {
      const page = await open();
      const created = await stack.client.createModel({
        model: { name: "arrived-live", version: "1.0.0", framework: "onnx" },
      });
      const fresh = rows(page).first();
      await expect.poll(() => fresh.getAttribute("data-model-id"), { timeout: T }).toBe(created.id);
      expect(await fresh.getAttribute("data-live")).toBe("new");
      expect(await fresh.locator(".badge").textContent()).toBe("new");
      const target = seeded[8]?.id ?? "";
      await stack.client.updateModelMetadata({ id: target, set: { owner: "someone-else" } });
      const changed = page.locator(`tr[data-model-id="${target}"]`);
      await expect.poll(() => changed.getAttribute("data-live"), { timeout: T }).toBe("changed");
      expect(await changed.getByText("changed", { exact: true }).isVisible()).toBe(true);
      const doomed = seeded[7]?.id ?? "";
      await stack.client.deleteModel({ id: doomed });
      const gone = page.locator(`tr[data-model-id="${doomed}"]`);
      await expect.poll(() => gone.getAttribute("data-live"), { timeout: T }).toBe("deleted");
      expect(await gone.getByText("deleted", { exact: true }).isVisible()).toBe(true);
      const strike = await page.evaluate<string>(
        `getComputedStyle(document.querySelector('tr[data-model-id="${doomed}"] td')).textDecorationLine`,
      );
      expect(strike).toContain("line-through");
    },
    T * 2,
  );

  it(
    "on another order, offers the new models with a button instead of moving the rows",
    async () => {
      const page = await open("#/?orderBy=name");
      const before = await names(page);
      await stack.client.createModel({ model: { name: "aaa-first-by-name", version: "1.0.0" } });
      const offer = page.getByRole("button", { name: "1 new model — show" });
      await offer.waitFor({ timeout: T });
      expect(await names(page)).toEqual(before);
      await offer.click();
      await expect.poll(() => names(page)).toContain("aaa-first-by-name");
      expect(await offer.count()).toBe(0);
    },
    T,
  );

  it(
    "says Reconnecting… when the feed ends, then resumes after the last revision without losing a change",
    async () => {
      // A change made through REST: its revision is where the first feed will have stopped.
      const marker = await fetch(`${stack.url}api/v1/models`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "revision-marker", version: "1.0.0" }),
      });
      const stoppedAt = marker.headers.get("x-modelreg-revision") ?? "";
      expect(stoppedAt).toMatch(/^\d+$/);
      const page = await newPage(browser);
      const resumed: { url: string; lastEventId: string | undefined }[] = [];
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      // The first feed ends after one progress frame at `stoppedAt` (a dropped connection);
      // the page's next attempt waits until the test has made a change, then reaches the gateway.
      await page.route("**/api/v1/models:watch*", async (route) => {
        if (resumed.length === 0 && !route.request().url().includes("afterRevision")) {
          resumed.push({ url: "", lastEventId: undefined });
          await route.fulfill({
            status: 200,
            headers: { "content-type": "text/event-stream" },
            body: `id: ${stoppedAt}\nevent: progress\ndata: {"revision":"${stoppedAt}"}\n\n`,
          });
          return;
        }
        resumed.push({ url: route.request().url(), lastEventId: route.request().headers()["last-event-id"] });
        await released;
        await route.continue();
      });
      await page.goto(stack.url);
      await live(page).filter({ hasText: "Reconnecting…" }).waitFor({ timeout: T });
      expect(await live(page).getAttribute("data-state")).toBe("reconnecting");
      // The first page (read once the first feed opened) is shown before the change is made.
      await rows(page).first().waitFor({ timeout: T });
      const missed = await stack.client.createModel({ model: { name: "while-away", version: "1.0.0" } });
      release();
      await live(page)
        .filter({ hasText: /^Live$/ })
        .waitFor({ timeout: T });
      const row = page.locator(`tr[data-model-id="${missed.id}"]`);
      await expect.poll(() => row.getAttribute("data-live"), { timeout: T }).toBe("new");
      expect(new URL(resumed[1]?.url ?? "http://x/").searchParams.get("afterRevision")).toBe(stoppedAt);
      expect(resumed[1]?.lastEventId).toBe(stoppedAt);
    },
    T * 2,
  );

  it(
    "says Offline, without retrying, when the gateway refuses the feed",
    async () => {
      const page = await newPage(browser);
      let attempts = 0;
      await page.route("**/api/v1/models:watch*", async (route) => {
        attempts++;
        await route.fulfill({
          status: 403,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            error: { code: 403, message: "No watching.", status: "PERMISSION_DENIED" },
          }),
        });
      });
      await page.goto(stack.url);
      await live(page).filter({ hasText: "Offline" }).waitFor({ timeout: T });
      expect(await live(page).getAttribute("data-state")).toBe("failed");
      // The page is read once the feed has failed: the rows come all the same.
      await expect.poll(() => rows(page).count()).toBeGreaterThan(0);
      await page.waitForTimeout(1500);
      expect(attempts).toBe(1);
    },
    T,
  );

  it(
    "fits a 390 px phone: nothing scrolls sideways, the search and the rows are usable",
    async () => {
      const page = await open("#/", "phone");
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      expect(overflow).toBeLessThanOrEqual(0);
      expect(await page.getByLabel("Filter").isVisible()).toBe(true);
      expect(await rows(page).first().getByRole("link").isVisible()).toBe(true);
      // Keyboard: the filter, then the sort, then Search, each with a visible focus ring.
      await page.getByLabel("Filter").focus();
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement?.id ?? ''")).toBe("sort-select");
      const ring = await page.evaluate<string>("getComputedStyle(document.activeElement).outlineStyle");
      expect(ring).toBe("solid");
    },
    T,
  );

  it(
    "adds at most a page of models live; past that it offers the rest with the button",
    async () => {
      const page = await open();
      expect(await rows(page).count()).toBe(4);
      const burst: Model[] = [];
      for (let i = 0; i < 6; i++) {
        burst.push(await stack.client.createModel({ model: { name: `burst-${i}`, version: "1.0.0" } }));
      }
      const offer = page.getByRole("button", { name: "2 new models — show" });
      await offer.waitFor({ timeout: T });
      expect(await rows(page).count()).toBe(8);
      expect(await page.locator('tr[data-live="new"]').count()).toBe(4);
      expect((await names(page)).slice(0, 4)).toEqual(["burst-3", "burst-2", "burst-1", "burst-0"]);
      await offer.click();
      await expect.poll(() => names(page)).toEqual(["burst-5", "burst-4", "burst-3", "burst-2"]);
      expect(await offer.count()).toBe(0);
      await page.getByText("Page 1").waitFor();
    },
    T,
  );

  it(
    "marks a model that no longer matches the filter, struck through",
    async () => {
      const leaving = await stack.client.createModel({
        model: { name: "leaving", version: "1.0.0", tags: ["prod"] },
      });
      const page = await open("#/?filter=tags:prod");
      const row = page.locator(`tr[data-model-id="${leaving.id}"]`);
      expect(await row.getAttribute("data-live")).toBeNull();
      await stack.client.removeModelTags({ id: leaving.id, tags: ["prod"] });
      await expect.poll(() => row.getAttribute("data-live"), { timeout: T }).toBe("left");
      expect(await row.locator(".badge").textContent()).toBe("no longer matches");
      const strike = await page.evaluate<string>(
        `getComputedStyle(document.querySelector('tr[data-model-id="${leaving.id}"] td')).textDecorationLine`,
      );
      expect(strike).toContain("line-through");
    },
    T,
  );

  it(
    "shows the not-found page for a malformed model link, and keeps a raw ? in a linked filter",
    async () => {
      const page = await newPage(browser);
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`${stack.url}#/models/%E0%A4%A`);
      await page.getByRole("alert").filter({ hasText: "There is no page at" }).waitFor({ timeout: T });
      expect(errors).toEqual([]);
      await page.goto(`${stack.url}#/?filter=name%20%3D%20"what?now"`);
      await expect.poll(() => page.getByLabel("Filter").inputValue()).toBe('name = "what?now"');
      await page.getByText("No models match").waitFor({ timeout: T });
      expect(await page.locator("#filter-error").count()).toBe(0);
    },
    T,
  );

  it(
    "does not miss a model created while the first page loads, nor show one twice",
    async () => {
      const page = await newPage(browser);
      // The first page's answer is read, then held until a model has been created after it.
      let snapshot: (() => Promise<void>) | undefined;
      let arrived = () => {};
      const requested = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      await page.route(
        (url) => url.pathname.endsWith("/api/v1/models"),
        async (route) => {
          const response = await route.fetch();
          snapshot = () => route.fulfill({ response });
          arrived();
        },
      );
      await page.goto(stack.url);
      await requested;
      await live(page)
        .filter({ hasText: /^Live$/ })
        .waitFor({ timeout: T });
      const missed = await stack.client.createModel({ model: { name: "while-loading", version: "1.0.0" } });
      await page.waitForTimeout(500);
      await snapshot?.();
      const row = page.locator(`tr[data-model-id="${missed.id}"]`);
      await expect.poll(() => row.getAttribute("data-live"), { timeout: T }).toBe("new");
      expect((await names(page))[0]).toBe("while-loading");
      // Created before the page was read: it is in the page once, unmarked.
      const second = await newPage(browser);
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      await second.route(
        (url) => url.pathname.endsWith("/api/v1/models"),
        async (route) => {
          await released;
          await route.continue();
        },
      );
      await second.goto(stack.url);
      await live(second)
        .filter({ hasText: /^Live$/ })
        .waitFor({ timeout: T });
      const early = await stack.client.createModel({ model: { name: "before-read", version: "1.0.0" } });
      await second.waitForTimeout(500);
      release();
      const once = second.locator(`tr[data-model-id="${early.id}"]`);
      await once.waitFor({ timeout: T });
      await second.waitForTimeout(300);
      expect(await once.count()).toBe(1);
      expect(await once.getAttribute("data-live")).toBeNull();
    },
    T,
  );

  it(
    "does not miss a model created after the first page could have been read but before the feed started",
    async () => {
      const page = await newPage(browser);
      // The feed's request is held back: the registry registers the watch only once it is let through.
      const feed = await holdFeed(page);
      await page.goto(stack.url);
      await feed.asked;
      const between = await stack.client.createModel({ model: { name: "before-feed", version: "1.0.0" } });
      // A read sent with the feed's request (the old way) would have been sent by now; the page waits for
      // the feed (2 s at most), so the read comes after the model was created and the feed started.
      expect(feed.reads(), "pages read before the feed opened").toBe(0);
      feed.release();
      await live(page)
        .filter({ hasText: /^Live$/ })
        .waitFor({ timeout: T });
      const row = page.locator(`tr[data-model-id="${between.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      expect((await names(page))[0]).toBe("before-feed");
      expect(await row.getAttribute("data-live")).toBeNull();
    },
    T,
  );
});
