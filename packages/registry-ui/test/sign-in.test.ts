// Signing in and out of a registry with token auth, in headless Chromium on the real stack (registry on
// SQLite over a socket with token auth, the REST gateway, the page): a token the browser cannot send is
// refused in the prompt and, when already stored, treated as a token problem; the prompt can be reopened
// from the header after it was closed; "Sign out" forgets the token.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBuiltPage } from "./support/build";
import { launchChromium, newPage, requireChromium, startSecuredStack, type UiStack } from "./support/stack";

const hasChromium = await requireChromium("packages/registry-ui/test/sign-in.test.ts");
const T = 30_000;
const token = "ana-2b7e151628aed2a6abf7158809cf4f3c";

let browser: Browser;
let secured: UiStack;

beforeAll(async () => {
  if (!hasChromium) return;
  requireBuiltPage();
  secured = await startSecuredStack(token);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await secured?.close();
});

async function open(hash = "#/"): Promise<Page> {
  const page = await newPage(browser);
  page.setDefaultTimeout(10_000);
  await page.goto(`${secured.url}${hash}`);
  return page;
}

const dialogOf = (page: Page) => page.getByRole("dialog", { name: "Sign in" });
const header = (page: Page) => page.getByRole("banner");
const rows = (page: Page) => page.getByRole("table", { name: "Models" }).locator("tr[data-model-id]");
const storedTokens = (page: Page) => page.evaluate<string[]>("Object.values(sessionStorage)");

async function signIn(page: Page, value: string): Promise<void> {
  const dialog = dialogOf(page);
  await dialog.getByLabel("Token").fill(value);
  await dialog.getByRole("button", { name: "Sign in" }).click();
}

describe.skipIf(!hasChromium)("signing in to a registry with token auth", () => {
  it(
    "refuses a token that is not printable ASCII in the prompt, saying why, and keeps asking",
    async () => {
      const page = await open();
      const dialog = dialogOf(page);
      await dialog.waitFor();
      await signIn(page, "tok€n");
      const input = dialog.getByLabel("Token");
      await expect.poll(() => input.getAttribute("aria-invalid")).toBe("true");
      const describedBy = await input.getAttribute("aria-describedby");
      expect(describedBy).toBeTruthy();
      const message = page.locator(`[id="${describedBy}"]`);
      expect(await message.textContent()).toMatch(/printable ASCII/);
      expect(await dialog.isVisible()).toBe(true);
      expect(await storedTokens(page)).toEqual([]);

      // Typing again clears the complaint; the right token signs in.
      await signIn(page, token);
      await dialog.waitFor({ state: "hidden" });
      await expect.poll(() => rows(page).count()).toBe(3);
      await page.context().close();
    },
    T,
  );

  it(
    "treats a stored token the browser cannot send as a token problem: removed, the prompt says why",
    async () => {
      const page = await open();
      await dialogOf(page).waitFor();
      await page.evaluate(`sessionStorage.setItem("modelreg.token", "tok€n")`);
      await page.reload();
      const dialog = dialogOf(page);
      await dialog.waitFor();
      await dialog.getByText(/cannot send/).waitFor();
      expect(await page.getByText(/cannot be reached/).count()).toBe(0);
      expect(await storedTokens(page)).toEqual([]);
      expect(await page.getByRole("status", { name: "Live updates" }).textContent()).not.toMatch(
        /Reconnecting/,
      );

      await signIn(page, token);
      await dialog.waitFor({ state: "hidden" });
      await expect.poll(() => rows(page).count()).toBe(3);
      await page.getByRole("status", { name: "Live updates" }).filter({ hasText: "Live" }).waitFor();
      await page.context().close();
    },
    T,
  );

  it(
    "reopens the prompt from the header's Sign in after it was closed with Escape",
    async () => {
      const page = await open();
      const dialog = dialogOf(page);
      await dialog.waitFor();
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden" });
      const headerSignIn = header(page).getByRole("button", { name: "Sign in" });
      await headerSignIn.click();
      await dialog.waitFor();
      await signIn(page, token);
      await dialog.waitFor({ state: "hidden" });
      await expect.poll(() => rows(page).count()).toBe(3);
      // Signed in: the header offers signing out instead.
      await headerSignIn.waitFor({ state: "detached" });
      await header(page).getByRole("button", { name: "Sign out" }).waitFor();
      await page.context().close();
    },
    T,
  );

  it(
    "forgets the token on Sign out: the next call asks for one again",
    async () => {
      const page = await open();
      await dialogOf(page).waitFor();
      await signIn(page, token);
      await expect.poll(() => rows(page).count()).toBe(3);
      expect(await storedTokens(page)).toContain(token);

      await header(page).getByRole("button", { name: "Sign out" }).click();
      await dialogOf(page).waitFor();
      expect(await storedTokens(page)).toEqual([]);
      await header(page).getByRole("button", { name: "Sign out" }).waitFor({ state: "detached" });
      // Still signed out after a reload: the token is gone, not just hidden.
      await page.reload();
      await dialogOf(page).waitFor();
      expect(await storedTokens(page)).toEqual([]);
      await page.context().close();
    },
    T,
  );
});
