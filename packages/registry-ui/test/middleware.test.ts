/**
 * The page's middleware on real Express 4 and 5 apps (with the REST gateway
 * mounted beside it) and on a plain node:http server: what a browser gets
 * for the page and its assets, the headers that keep it safe and cached,
 * the redirect under a prefix, what it leaves to the app, and its option
 * checks. One Chromium test: the built page runs under the strict CSP.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { createGatewayMiddleware } from "@modelreg/gateway-express";
import { createRegistryClient, type RegistryClient } from "@modelreg/registry-client";
import express5 from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry } from "../../../test-support/registry";
import { createRegistryUi, type RegistryUiOptions } from "../src/index";
import { launchChromium, newPage, requireChromium, startUiStack } from "./support/stack";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
if (!existsSync(`${packageDir}dist/ui/index.html`)) {
  throw new Error(
    "packages/registry-ui/dist/ui is missing: build the page first (cd packages/registry-ui && npx vite build)",
  );
}

type ExpressFactory = typeof express5;
const requireCjs = createRequire(import.meta.url);
/** Both Express majors; `express4` is the npm alias of express@4 the gateway's tests use. */
const expressVersions: readonly { readonly name: string; readonly express: ExpressFactory }[] = [
  { name: "Express 4", express: requireCjs("express4") as ExpressFactory },
  { name: "Express 5", express: express5 },
];

const strictCsp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let registry: Awaited<ReturnType<typeof startTestRegistry>>;
let client: RegistryClient;

beforeAll(async () => {
  registry = await startTestRegistry();
  client = createRegistryClient({ target: registry.address, insecure: true });
  await client.connect({ timeoutMs: 5000 });
});

afterAll(async () => {
  client.close();
  await registry.server.shutdown({ graceMs: 50 });
});

/** Listens on 127.0.0.1:0; returns the base URL and the server. */
async function listen(server: Server): Promise<{ base: string; server: Server }> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

/** The app's own 404, so a test sees that the middleware passed a request on. */
const appNotFound = "the app's own 404";

/** The settings the page was given, read back from its config element. */
function settingsIn(html: string): Record<string, unknown> {
  const json = /<script type="application\/json" id="modelreg-ui-config">([^<]*)<\/script>/.exec(html)?.[1];
  expect(json, "the config element").toBeDefined();
  return JSON.parse(json ?? "") as Record<string, unknown>;
}

/** The page's script URL (relative, as Vite wrote it). */
const scriptOf = (html: string) => /<script type="module"[^>]* src="\.\/([^"]+)"/.exec(html)?.[1] ?? "";

for (const { name, express } of expressVersions) {
  describe(`on ${name}, beside the gateway`, () => {
    let base: string;
    let server: Server;

    beforeAll(async () => {
      const app = express();
      app.use(createGatewayMiddleware({ client }));
      app.use(createRegistryUi({ title: "ML models", pageSize: 25 }));
      app.use("/ui", createRegistryUi({ title: "Under a prefix" }));
      app.use((_req, res) => {
        res.status(404).type("text/plain").send(appNotFound);
      });
      ({ base, server } = await listen(createServer(app)));
    });

    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    it("serves the page at / with its settings, no-cache, an ETag and the security headers", async () => {
      const res = await fetch(`${base}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("etag")).toMatch(/^"[\w-]+"$/);
      expect(res.headers.get("content-security-policy")).toBe(strictCsp);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      const html = await res.text();
      expect(html).toContain("<title>ML models</title>");
      expect(settingsIn(html)).toEqual({ apiBaseUrl: "", title: "ML models", pageSize: 25 });
      const again = await fetch(`${base}/index.html?x=1`);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe(html);
    });

    it("answers 304 to a matching If-None-Match, and HEAD without a body", async () => {
      const etag = (await fetch(`${base}/`)).headers.get("etag") ?? "";
      const cached = await fetch(`${base}/`, { headers: { "If-None-Match": `W/"other", ${etag}` } });
      expect(cached.status).toBe(304);
      expect(cached.headers.get("etag")).toBe(etag);
      expect(await cached.text()).toBe("");
      const stale = await fetch(`${base}/`, { headers: { "If-None-Match": '"stale"' } });
      expect(stale.status).toBe(200);
      const head = await fetch(`${base}/`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get("content-length"))).toBeGreaterThan(300);
      expect(await head.text()).toBe("");
    });

    it("serves the hashed assets as immutable, and passes a missing one on to the app", async () => {
      const script = scriptOf(await (await fetch(`${base}/`)).text());
      expect(script).toMatch(/^assets\/.+\.js$/);
      const res = await fetch(`${base}/${script}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/javascript/);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect((await res.text()).length).toBeGreaterThan(1000);
      const missing = await fetch(`${base}/assets/index-nothere.js`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe(appNotFound);
    });

    it("passes other paths and methods on: the gateway's API and the app's 404 still answer", async () => {
      const api = await fetch(`${base}/api/v1/models`);
      expect(api.status).toBe(200);
      expect(await api.json()).toHaveProperty("models");
      for (const [method, path] of [
        ["GET", "/nope"],
        ["POST", "/"],
        ["DELETE", "/index.html"],
        ["PUT", "/assets/x.js"],
      ] as const) {
        const res = await fetch(`${base}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(await res.text()).toBe(appNotFound);
      }
    });

    it("mounted under /ui: redirects /ui to /ui/ (query kept) and serves the page and assets there", async () => {
      const bare = await fetch(`${base}/ui`, { redirect: "manual" });
      expect(bare.status).toBe(301);
      expect(bare.headers.get("location")).toBe("/ui/");
      const withQuery = await fetch(`${base}/ui?a=1`, { redirect: "manual" });
      expect(withQuery.headers.get("location")).toBe("/ui/?a=1");
      const page = await fetch(`${base}/ui`);
      expect(page.url).toBe(`${base}/ui/`);
      const html = await page.text();
      expect(html).toContain("<title>Under a prefix</title>");
      const asset = await fetch(new URL(scriptOf(html), page.url));
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
    });

    it("serves the page at one address: a path with `//` is redirected to single slashes, or passed on", async () => {
      // Express 4 hands /ui// to the page mounted at /ui as "/": redirected to the single-slash path.
      // Express 5 hands it over as "//", which is not the page's: passed on to the app.
      for (const [path, single] of [
        ["/ui//", "/ui/"],
        ["/ui//index.html?a=1", "/ui/index.html?a=1"],
        ["/ui///", "/ui/"],
        ["//", "/"],
        ["//index.html", "/index.html"],
      ] as const) {
        const res = await fetch(`${base}${path}`, { redirect: "manual" });
        const body = await res.text();
        if (res.status === 301) expect(res.headers.get("location"), path).toBe(single);
        else expect([res.status, body], path).toEqual([404, appNotFound]);
      }
      const redirected = (await fetch(`${base}/ui//`, { redirect: "manual" })).status;
      expect(redirected).toBe(name === "Express 4" ? 301 : 404);
    });
  });
}

describe("settings", () => {
  /** The page one middleware serves, from a plain node:http server. */
  async function pageWith(options: RegistryUiOptions): Promise<{ html: string; csp: string }> {
    const ui = createRegistryUi(options);
    const { base, server } = await listen(createServer((req, res) => ui(req, res, () => res.end())));
    try {
      const res = await fetch(`${base}/`);
      return { html: await res.text(), csp: res.headers.get("content-security-policy") ?? "" };
    } finally {
      server.close();
    }
  }

  it("keeps a hostile title text: nothing leaves the script element or the <title>", async () => {
    const title = "</script><script>alert(1)</script> <!-- $& $1 & \u2028\u2029 ©";
    const { html } = await pageWith({ title });
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("<!--");
    expect(settingsIn(html).title).toBe(title);
    expect(html).toContain(
      "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &lt;!-- $&amp; $1 &amp; \u2028\u2029 ©</title>",
    );
    // One script element for the settings, one for the page: no other.
    expect(html.match(/<script/g)).toHaveLength(2);
  });

  it("lets the page reach a gateway on another origin (CSP connect-src) and trims a trailing slash", async () => {
    const { html, csp } = await pageWith({ apiBaseUrl: "https://registry.example.com:8443/api-root/" });
    expect(settingsIn(html).apiBaseUrl).toBe("https://registry.example.com:8443/api-root");
    expect(csp).toContain("connect-src 'self' https://registry.example.com:8443;");
    const prefixed = await pageWith({ apiBaseUrl: "/registry" });
    expect(settingsIn(prefixed.html).apiBaseUrl).toBe("/registry");
    expect(prefixed.csp).toBe(strictCsp);
  });

  it("works on plain node:http, passing what it does not serve to the final handler", async () => {
    const ui = createRegistryUi();
    const { base, server } = await listen(
      createServer((req, res) =>
        ui(req, res, () => {
          res.statusCode = 418;
          res.end("final");
        }),
      ),
    );
    try {
      expect((await fetch(`${base}/`)).status).toBe(200);
      const other = await fetch(`${base}/other`);
      expect([other.status, await other.text()]).toEqual([418, "final"]);
    } finally {
      server.close();
    }
  });

  it("refuses bad options with a TypeError naming the option and what to fix", () => {
    const cases: [RegistryUiOptions, RegExp][] = [
      [{ apiBaseUrl: "registry" }, /apiBaseUrl must be "" \(the same app\), a path starting with "\/"/],
      [{ apiBaseUrl: "//evil.example" }, /apiBaseUrl must be ""/],
      [{ apiBaseUrl: "ftp://x" }, /apiBaseUrl must be "".*absolute http\(s\) URL \(got "ftp:\/\/x"\)/],
      [{ apiBaseUrl: "http://" }, /apiBaseUrl is not a valid URL/],
      [{ apiBaseUrl: 8080 as unknown as string }, /apiBaseUrl must be a string \(got number\)/],
      [{ title: "x".repeat(201) }, /title must be a string of up to 200 characters \(got 201 characters\)/],
      [{ title: 7 as unknown as string }, /title must be a string .*\(got number\)/],
      [{ pageSize: 0 }, /pageSize must be an integer from 1 to 1000 \(got 0\)/],
      [{ pageSize: 1001 }, /pageSize must be an integer from 1 to 1000/],
      [{ pageSize: 2.5 }, /pageSize must be an integer from 1 to 1000 \(got 2.5\)/],
    ];
    for (const [options, message] of cases) {
      expect(() => createRegistryUi(options), JSON.stringify(options)).toThrow(TypeError);
      expect(() => createRegistryUi(options)).toThrow(message);
    }
    expect(() => createRegistryUi({ title: "x".repeat(200), pageSize: 1000 })).not.toThrow();
  });
});

describe("the built package", () => {
  const built = existsSync(`${packageDir}dist/index.js`) && existsSync(`${packageDir}dist/index.cjs`);
  if (!built) {
    const why =
      "packages/registry-ui/test/middleware.test.ts: the package is not built (dist/index.js, dist/index.cjs)";
    // CI builds before it tests: a missing build there is a broken pipeline, not a reason to skip.
    if (process.env.CI === "true") throw new Error(`${why}; under CI=true this test must run.`);
    process.stderr.write(`\n[skipped] ${why}: run \`npm run build -w @modelreg/registry-ui\` first.\n\n`);
  }
  it.skipIf(!built)("finds dist/ui from both its ESM and its CJS build (npm run build first)", () => {
    const script = (load: string) =>
      `${load}.then((m) => { const ui = m.createRegistryUi({ title: "built" }); ` +
      `const res = { writeHead(s) { this.s = s; }, end(b) { process.stdout.write(this.s + " " + ` +
      `/<title>built<\\/title>/.test(String(b))); } }; ui({ method: "GET", url: "/", headers: {} }, res, () => {}); })`;
    for (const load of [
      `import(${JSON.stringify(`${packageDir}dist/index.js`)})`,
      `Promise.resolve(require(${JSON.stringify(`${packageDir}dist/index.cjs`)}))`,
    ]) {
      const out = execFileSync(process.execPath, ["-e", script(load)], { cwd: "/", encoding: "utf8" });
      expect(out, load).toBe("200 true");
    }
  });
});

describe("in Chromium", async () => {
  const available = await requireChromium("packages/registry-ui/test/middleware.test.ts");
  it.skipIf(!available)(
    "the page runs under its strict CSP: no violation, the tab shows the title",
    async () => {
      const stack = await startUiStack({ ui: { title: "CSP check" } });
      const browser = await launchChromium();
      try {
        const page = await newPage(browser);
        const violations: string[] = [];
        page.on("console", (message) => {
          if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
        });
        page.on("pageerror", (error) => violations.push(`page error: ${error.message}`));
        const response = await page.goto(stack.url, { waitUntil: "load" });
        expect(response?.headers()["content-security-policy"]).toBe(strictCsp);
        // The page may prefix the view ("Models · CSP check"); the configured title is in it.
        expect(await page.title()).toMatch(/CSP check$/);
        // The page ran: its script filled the app element.
        await page.waitForFunction("(document.getElementById('app')?.childElementCount ?? 0) > 0");
        const styled = await page.evaluate<number>("document.styleSheets.length");
        expect(styled).toBeGreaterThan(0);
        expect(violations).toEqual([]);
      } finally {
        await browser.close();
        await stack.close();
      }
    },
    30_000,
  );
});
