import { ModelService } from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { buildRoutes, matchRoute } from "./routes";

type Method = (typeof ModelService.methods)[number];

/** A copy of a real method with another name and HTTP rule, as a new annotated RPC would be. */
function withRule(base: Method, name: string, rule: Record<string, string>): Method {
  return { ...base, name, localName: name, options: { "google.api.http": rule } };
}

const getModel = ModelService.methods.find((m) => m.name === "GetModel");
if (!getModel) throw new Error("GetModel is missing from the contract");

describe("the route table", () => {
  it("has one route per annotated RPC of the contract", () => {
    const routes = buildRoutes();
    expect(routes.map((r) => r.rpc)).toEqual(ModelService.methods.map((m) => m.name));
  });

  it("gets a route for a newly annotated RPC, with no handler code", () => {
    const extra = withRule(getModel, "GetLatestModel", { get: "/api/v1/models/{id}:latest" });
    const routes = buildRoutes([...ModelService.methods, extra]);
    const match = matchRoute(routes, "GET", "/api/v1/models/abc:latest");
    expect(match).toMatchObject({ kind: "found", route: { rpc: "GetLatestModel" }, params: { id: "abc" } });
  });

  it("refuses conflicting rules at start-up, naming both", () => {
    const clash = withRule(getModel, "GetModelAgain", { get: "/api/v1/models/{id}" });
    expect(() => buildRoutes([...ModelService.methods, clash])).toThrow(/GetModel .* and GetModelAgain/);
    const literal = withRule(getModel, "GetLatest", { get: "/api/v1/models/latest" });
    expect(() => buildRoutes([...ModelService.methods, literal])).toThrow(/conflict/);
  });

  it("refuses malformed rules at start-up", () => {
    const unknownField = withRule(getModel, "Bad", { get: "/api/v1/things/{nope}" });
    expect(() => buildRoutes([unknownField])).toThrow(/\{nope\}/);
    const badBody = withRule(getModel, "Bad", { post: "/api/v1/things", body: "nope" });
    expect(() => buildRoutes([badBody])).toThrow(/body "nope"/);
    const relative = withRule(getModel, "Bad", { get: "api/v1/things" });
    expect(() => buildRoutes([relative])).toThrow(/must start with \//);
  });

  it("matches custom verbs, decodes path variables and reports allowed methods", () => {
    const routes = buildRoutes();
    expect(matchRoute(routes, "POST", "/api/v1/models/a%2Fb:addTags")).toMatchObject({
      kind: "found",
      route: { rpc: "AddModelTags" },
      params: { id: "a/b" },
    });
    expect(matchRoute(routes, "PUT", "/api/v1/models/x")).toEqual({
      kind: "methodNotAllowed",
      allowed: ["GET", "PATCH", "DELETE"],
    });
    expect(matchRoute(routes, "GET", "/api/v1/nothing")).toEqual({ kind: "notFound" });
  });
});
