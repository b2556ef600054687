// GET /metrics of the gateway process, in Prometheus text format: the
// counters of the registry client's read cache (absent with CACHE_URL=off)
// and of the gateway's admission control (absent when it is off).
import type { GatewayAdmissionStats } from "@modelreg/gateway-express";
import type { RegistryClient } from "@modelreg/registry-client";
import { Counter, Gauge, Registry } from "prom-client";

/** The metrics of one gateway process: its text and content type. */
export interface GatewayMetrics {
  readonly contentType: string;
  text(): Promise<string>;
}

type Stats = NonNullable<ReturnType<RegistryClient["cacheStats"]>>;
/** The numeric fields of `cacheStats()` (derived, not copied): the tables below say which are counters. */
type CounterName = { [K in keyof Stats]-?: Stats[K] extends number ? K : never }[keyof Stats];

/** `cacheStats()` counters as Prometheus counters: name suffix and help. */
const counters: readonly (readonly [CounterName, string, string])[] = [
  ["hits", "hits_total", "Reads answered from the in-process cache (L1)."],
  ["sharedHits", "shared_hits_total", "Reads answered from the shared cache (L2, Redis) and copied to L1."],
  ["misses", "misses_total", "Reads sent to the registry (misses, and reads the cache could not answer)."],
  ["notFoundHits", "not_found_hits_total", "NOT_FOUND answers served from the cache."],
  [
    "staleBypasses",
    "stale_bypasses_total",
    "Reads sent to the registry because the cache had not seen their X-Modelreg-Revision, or its watch was not current.",
  ],
  [
    "coalesced",
    "coalesced_total",
    "Reads that waited for another read of the same key instead of calling the registry.",
  ],
  ["invalidations", "invalidations_total", "Cache entries replaced or evicted by change events."],
  ["sharedErrors", "shared_errors_total", "Failed or timed-out calls to the shared cache (L2)."],
];

/** `cacheStats()` values as Prometheus gauges: name suffix, help and value. */
const gauges: readonly (readonly [string, string, (stats: Stats) => number])[] = [
  [
    "current",
    "1 while the cache answers (its watch of the change feed is current), else 0.",
    (s) => (s.current ? 1 : 0),
  ],
  ["revision", "The history revision the cache has applied every change up to.", (s) => Number(s.revision)],
  ["bytes", "Bytes held by the in-process cache (L1).", (s) => s.bytes],
  ["entries", "Entries held by the in-process cache (L1).", (s) => s.entries],
];

/** Admission control's counts as Prometheus metrics: `modelreg_gateway_*`. */
function admissionMetrics(registry: Registry, admission: () => GatewayAdmissionStats | undefined): void {
  new Gauge({
    name: "modelreg_gateway_requests_in_flight",
    help: "Requests the gateway is serving now (admission control's slots taken).",
    registers: [registry],
    collect() {
      this.set(admission()?.inFlight ?? 0);
    },
  });
  new Gauge({
    name: "modelreg_gateway_requests_queued",
    help: "Requests waiting for a slot now.",
    registers: [registry],
    collect() {
      this.set(admission()?.queued ?? 0);
    },
  });
  new Counter({
    name: "modelreg_gateway_requests_refused_total",
    help: "Requests refused with 429 by admission control (full, or no slot came free in time).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(admission()?.refused ?? 0);
    },
  });
}

/**
 * The process's metrics, read when scraped (nothing is counted per request
 * here): `modelreg_cache_*` from `client.cacheStats()` (none without a
 * cache, CACHE_URL=off) and `modelreg_gateway_*` from admission control
 * (none when it is off).
 */
export function metricsOf(
  client: RegistryClient,
  admission: () => GatewayAdmissionStats | undefined,
): GatewayMetrics {
  const registry = new Registry();
  if (admission() !== undefined) admissionMetrics(registry, admission);
  if (client.cacheStats() !== undefined) {
    for (const [field, suffix, help] of counters) {
      new Counter({
        name: `modelreg_cache_${suffix}`,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(client.cacheStats()?.[field] ?? 0);
        },
      });
    }
    for (const [suffix, help, value] of gauges) {
      new Gauge({
        name: `modelreg_cache_${suffix}`,
        help,
        registers: [registry],
        collect() {
          const stats = client.cacheStats();
          if (stats) this.set(value(stats));
        },
      });
    }
  }
  return { contentType: registry.contentType, text: () => registry.metrics() };
}
