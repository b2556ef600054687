import { describe, it } from "vitest";
import { defineStorageConformanceSuite } from "../testing";
import { createMemoryStorage } from "./memory";

defineStorageConformanceSuite({
  name: "memory",
  describe,
  it,
  createAdapter: async (settings) => createMemoryStorage({ ...settings }),
});
