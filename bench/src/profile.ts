/**
 * `npm run profile -w @modelreg/bench`: CPU profiles (node --cpu-prof) of our
 * processes under load, summarised into the hot spots by function and by
 * package. Profiles the built dist/ and maps our frames back to their
 * source files and lines with dist's source maps.
 *
 * Scenarios: the registry server (memory) under h2load; registry-client's
 * GetModel loop (pool 1); the gateway process under wrk.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { GET_MODEL_PATH, getModelRequestFrame, MODEL_ID } from "./fixture";
import { runH2load } from "./load/h2load";
import { runWrk } from "./load/wrk";
import { detectPinning, nodeWithTsx, pinned, startServer } from "./proc";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = join(benchDir, "..");
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    only: { type: "string", default: "server,client,client4,gateway" },
    out: { type: "string", default: join(benchDir, "results", "profiles") },
    "base-port": { type: "string", default: "47300" },
  },
});
const durationS = Number(args.duration);
const basePort = Number(args["base-port"]);
const only = args.only.split(",");
// Built dist/ (what users run; tsx's keepNames helpers would add per-call work
// that dist does not have); frames are mapped back to sources with dist's source maps.
process.env.TSX_TSCONFIG_PATH = join(benchDir, "tsconfig.dist.json");

const sourceMaps = new Map<string, SourceMap | undefined>();
/** `packages/x/src/file.ts:line` for a frame in a package's dist bundle, else undefined. */
function original(frame: CallFrame): string | undefined {
  if (!frame.url.includes("/packages/") || !frame.url.includes("/dist/")) return undefined;
  const path = frame.url.startsWith("file://") ? fileURLToPath(frame.url) : frame.url;
  if (!sourceMaps.has(path)) {
    try {
      sourceMaps.set(path, new SourceMap(JSON.parse(readFileSync(`${path}.map`, "utf8"))));
    } catch {
      sourceMaps.set(path, undefined);
    }
  }
  const entry = sourceMaps.get(path)?.findEntry(frame.lineNumber, frame.columnNumber) as
    | { originalSource?: string; originalLine?: number }
    | undefined;
  if (!entry?.originalSource) return undefined;
  const source = entry.originalSource.startsWith("file://")
    ? fileURLToPath(entry.originalSource)
    : join(dirname(path), entry.originalSource);
  return `${relative(repoDir, source)}:${(entry.originalLine ?? 0) + 1}`;
}
const pinning = detectPinning(os.cpus().length, true);
const workDir = join(os.tmpdir(), `modelreg-profile-${process.pid}`);
mkdirSync(workDir, { recursive: true });
mkdirSync(args.out, { recursive: true });

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Now on the clock V8's profiler stamps samples with (CLOCK_MONOTONIC, microseconds). */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** Where a frame's code lives: one of our packages (with its file), a dependency, or Node itself. */
function locate(url: string): { owner: string; file: string } {
  if (url === "") return { owner: "(native / GC / idle)", file: "" };
  if (url.startsWith("node:")) return { owner: "node core", file: url };
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf("/node_modules/");
  if (modules !== -1) {
    const rest = path.slice(modules + "/node_modules/".length).split("/");
    const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? "?");
    return { owner: name, file: rest.slice(name.split("/").length).join("/") };
  }
  const rel = relative(repoDir, path);
  const match = /^packages\/([^/]+)\/(.*)$/.exec(rel);
  if (match) return { owner: `@modelreg/${match[1]}`, file: `packages/${match[1]}/${match[2]}` };
  return { owner: rel.startsWith("bench/") ? "bench harness" : "other", file: rel };
}

/**
 * Summarises the samples taken while load ran (`window`, on the monotonic
 * clock), so start-up and module loading do not count.
 */
function summarise(profile: CpuProfile, title: string, window: [number, number]): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<number, number>();
  let at = profile.startTime;
  let totalSamples = 0;
  const inWindow = window[0] >= profile.startTime && window[1] <= profile.endTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (inWindow && (at < window[0] || at > window[1])) return;
    totalSamples++;
    hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  const totalMs = inWindow ? (window[1] - window[0]) / 1000 : (profile.endTime - profile.startTime) / 1000;
  const msPerSample = totalMs / Math.max(1, totalSamples);
  const callers = new Map<string, Map<string, number>>();
  const self = new Map<string, number>();
  const selfByOwner = new Map<string, number>();
  const inclusiveOurs = new Map<string, number>();
  const key = (frame: CallFrame) => {
    const mapped = original(frame);
    if (mapped) return `${mapped} ${frame.functionName || "(anonymous)"}`;
    const { file } = locate(frame.url);
    const line = frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : "";
    return `${file}${file ? `${line} ` : ""}${frame.functionName || "(anonymous)"}`;
  };
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (!node) continue;
    const { owner } = locate(node.callFrame.url);
    const name = node.callFrame.functionName;
    const ownerKey =
      name === "(idle)" ? "(idle)" : name === "(garbage collector)" ? "(garbage collector)" : owner;
    const selfKey = key(node.callFrame);
    self.set(selfKey, (self.get(selfKey) ?? 0) + count);
    // Who is responsible for a Node-core or native frame: the nearest caller outside Node.
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const frame = byId.get(up)?.callFrame;
      if (!frame || frame.url === "" || frame.url.startsWith("node:")) continue;
      const by = callers.get(selfKey) ?? new Map<string, number>();
      by.set(key(frame), (by.get(key(frame)) ?? 0) + count);
      callers.set(selfKey, by);
      break;
    }
    selfByOwner.set(ownerKey, (selfByOwner.get(ownerKey) ?? 0) + count);
    // Inclusive time of our packages' functions: each function once per sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || !locate(frame.url).owner.startsWith("@modelreg/")) continue;
      const k = key(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveOurs.set(k, (inclusiveOurs.get(k) ?? 0) + count);
    }
  }
  const idle = selfByOwner.get("(idle)") ?? 0;
  const busy = totalSamples - idle;
  const pct = (n: number) => `${((n / Math.max(1, busy)) * 100).toFixed(1)}%`;
  const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  const lines = [
    `### ${title}`,
    "",
    `${totalMs.toFixed(0)} ms of load profiled${inWindow ? "" : " (whole process: the load window was not on the profile's clock)"}, ${totalSamples} samples (${msPerSample.toFixed(2)} ms each), busy ${((busy / Math.max(1, totalSamples)) * 100).toFixed(0)}%. Percentages are of busy samples.`,
    "",
    "Self time by owner:",
    "",
    "| owner | self |",
    "|---|--:|",
    ...top(selfByOwner, 14)
      .filter(([owner]) => owner !== "(idle)")
      .map(([owner, n]) => `| ${owner} | ${pct(n)} |`),
    "",
    "Top functions by self time (for Node-core frames: the nearest caller outside Node):",
    "",
    "| function | self | mostly called from |",
    "|---|--:|---|",
    ...top(self, 28)
      .filter(([k]) => !k.startsWith("(idle)"))
      .map(([k, n]) => {
        const from = callers.get(k);
        const main = from ? top(from, 1)[0] : undefined;
        return `| \`${k}\` | ${pct(n)} | ${main && !k.includes("packages/") ? `\`${main[0]}\`` : ""} |`;
      }),
    "",
    "Our packages' functions by inclusive time (callees included):",
    "",
    "| function | inclusive |",
    "|---|--:|",
    ...top(inclusiveOurs, 22).map(([k, n]) => `| \`${k}\` | ${pct(n)} |`),
    "",
  ];
  return lines.join("\n");
}

function takeProfile(dir: string): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
}

const sections: string[] = [];
const requestFrame = getModelRequestFrame();
const bodyFile = join(workDir, "request.bin");
writeFileSync(bodyFile, requestFrame);

if (only.includes("server")) {
  const dir = join(workDir, "server");
  const server = await startServer(pinning, "registry-memory", basePort, {
    nodeFlags: ["--cpu-prof", "--cpu-prof-dir", dir],
  });
  const url = `http://127.0.0.1:${basePort}${GET_MODEL_PATH}`;
  const load = {
    url,
    bodyFile,
    connections: 4,
    streamsPerConnection: 16,
    logFile: join(workDir, "h2load.log"),
  };
  await runH2load(pinning, { ...load, durationS: 2 }, requestFrame);
  const t0 = monotonicMicros();
  const result = await runH2load(pinning, { ...load, durationS }, requestFrame);
  const t1 = monotonicMicros();
  await server.stop();
  sections.push(
    summarise(
      takeProfile(dir),
      `registry-server (memory) under h2load, GetModel, ${result.reqPerSec.toFixed(0)} req/s (profiler on)`,
      [t0, t1],
    ),
  );
}

async function profileClient(pool: number, port: number) {
  const dir = join(workDir, `client-pool${pool}`);
  const server = await startServer(pinning, "registry-memory", port);
  const [node, nodeArgs] = nodeWithTsx(
    "./load/client-loop.ts",
    [
      "--kind",
      "ours",
      "--pool",
      "1",
      "--duration-ms",
      String(durationS * 1000),
      "--target",
      `127.0.0.1:${port}`,
    ],
    ["--cpu-prof", "--cpu-prof-dir", dir],
  );
  const [command, commandArgs] = pinned(pinning, "load", node, nodeArgs);
  const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  let out = "";
  child.stdout?.on("data", (c) => {
    out += c;
  });
  const window: [number, number] = [0, 0];
  child.on("message", (message: { type?: string; phase?: string }) => {
    if (message.type === "measure") window[message.phase === "start" ? 0 : 1] = monotonicMicros();
  });
  await new Promise((resolve) => child.on("exit", resolve));
  await server.stop();
  const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { reqPerSec: number };
  sections.push(
    summarise(
      takeProfile(dir),
      `registry-client GetModel loop (pool ${pool}, 64 in flight), ${result.reqPerSec.toFixed(0)} calls/s (profiler on)`,
      window,
    ),
  );
}

if (only.includes("client")) await profileClient(1, basePort + 1);
if (only.includes("client4")) await profileClient(4, basePort + 4);

if (only.includes("gateway")) {
  const dir = join(workDir, "gateway");
  const registry = await startServer(pinning, "registry-memory", basePort + 2);
  const gateway = await startServer(pinning, "gateway", basePort + 3, {
    target: `127.0.0.1:${basePort + 2}`,
    nodeFlags: ["--cpu-prof", "--cpu-prof-dir", dir],
  });
  const url = `http://127.0.0.1:${basePort + 3}/api/v1/models/${MODEL_ID}`;
  await runWrk(pinning, { url, durationS: 2, connections: 64, expectId: MODEL_ID });
  const t0 = monotonicMicros();
  const result = await runWrk(pinning, { url, durationS, connections: 64, expectId: MODEL_ID });
  const t1 = monotonicMicros();
  await gateway.stop();
  await registry.stop();
  sections.push(
    summarise(
      takeProfile(dir),
      `gateway process (Express + gateway + client) under wrk, GET by id, ${result.reqPerSec.toFixed(0)} req/s (profiler on)`,
      [t0, t1],
    ),
  );
}

console.log(`raw .cpuprofile files kept in ${workDir} (open them in Chrome DevTools)`);
const text = `# CPU profiles\n\n${new Date().toISOString()}; \`npm run profile -w @modelreg/bench\` (built dist/, frames mapped to sources, ${durationS} s per scenario, ${pinning.enabled ? "server core 0, load core 1" : "unpinned"}).\n\n${sections.join("\n")}`;
writeFileSync(join(args.out, "profile.md"), text);
console.log(text);
