import type { FieldInfo, IMessageType } from "@protobuf-ts/runtime";
import { describe, expect, it } from "vitest";
import { HttpRule, ModelService } from "./index";

// biome-ignore lint/suspicious/noExplicitAny: walking arbitrary request and response types.
type AnyType = IMessageType<any>;

interface Route {
  method: string;
  rpc: string;
  template: string;
  segments: string[]; // literal text, or "{}" for a variable
  variables: string[];
  customVerb: string;
  rule: HttpRule;
  input: AnyType;
  output: AnyType;
}

// Parses the subset of the google.api.http path template syntax the contract
// uses: literal segments, `{field.path}` variables and a trailing `:verb`.
function parseTemplate(template: string) {
  expect(template.startsWith("/"), `${template} starts with /`).toBe(true);
  const colon = template.lastIndexOf(":");
  const hasVerb = colon > template.lastIndexOf("/") && colon > template.lastIndexOf("}");
  const path = hasVerb ? template.slice(0, colon) : template;
  const customVerb = hasVerb ? template.slice(colon + 1) : "";
  const variables: string[] = [];
  const segments = path
    .slice(1)
    .split("/")
    .map((segment) => {
      const variable = /^\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\}$/.exec(segment);
      if (variable?.[1]) {
        variables.push(variable[1]);
        return "{}";
      }
      expect(segment, `${template}: segment "${segment}"`).toMatch(/^[A-Za-z0-9._-]+$/);
      return segment;
    });
  return { segments, variables, customVerb };
}

function findField(type: AnyType, path: string): FieldInfo | undefined {
  const [head, ...rest] = path.split(".");
  const field = type.fields.find((f) => f.name === head);
  if (!field || rest.length === 0) return field;
  return field.kind === "message" ? findField(field.T(), rest.join(".")) : undefined;
}

const routes: Route[] = ModelService.methods.flatMap((method) => {
  const raw = method.options["google.api.http"];
  if (raw === undefined) return [];
  const rule = HttpRule.fromJson(raw);
  const pattern = rule.pattern;
  const method_ = pattern.oneofKind;
  if (method_ === undefined || method_ === "custom") {
    throw new Error(`${method.name}: the contract only uses the standard HTTP verbs`);
  }
  const template = (pattern as unknown as Record<string, string>)[method_] ?? "";
  return [
    {
      method: method_.toUpperCase(),
      rpc: method.name,
      template,
      ...parseTemplate(template),
      rule,
      input: method.I,
      output: method.O,
    },
  ];
});

describe("google.api.http rules", () => {
  it("exist on every method, with one binding each", () => {
    for (const method of ModelService.methods) {
      const rule = HttpRule.fromJson(method.options["google.api.http"] ?? {});
      expect(rule.pattern.oneofKind, `${method.name} has an HTTP rule`).toBeDefined();
      expect(rule.additionalBindings, `${method.name} additional bindings`).toEqual([]);
    }
    expect(routes).toHaveLength(ModelService.methods.length);
  });

  it("give the seed's REST surface", () => {
    const surface = routes.map((r) => `${r.method} ${r.template} -> ${r.rpc}`);
    expect(surface).toEqual(
      expect.arrayContaining([
        "POST /api/v1/models -> CreateModel",
        "GET /api/v1/models -> ListModels",
        "GET /api/v1/models/{id} -> GetModel",
        "PATCH /api/v1/models/{model.id} -> UpdateModel",
        "DELETE /api/v1/models/{id} -> DeleteModel",
      ]),
    );
    // The seed posts the bare model and reads the bare model back.
    const create = routes.find((r) => r.rpc === "CreateModel");
    expect(create?.rule.body).toBe("model");
    expect(create?.rule.responseBody).toBe("model");
  });

  it.each(routes.map((r) => [r.rpc, r] as const))(
    "%s: variables, body and response_body name real fields",
    (_rpc, route) => {
      expect(route.template.startsWith("/api/v1/")).toBe(true);
      for (const variable of route.variables) {
        const field = findField(route.input, variable);
        expect(field, `path variable {${variable}}`).toBeDefined();
        expect(field?.kind === "scalar" && !field.repeat, `{${variable}} is a singular scalar`).toBe(true);
      }
      const { body, responseBody } = route.rule;
      if (route.method === "GET" || route.method === "DELETE") {
        expect(body, "GET and DELETE carry no body").toBe("");
      } else if (body !== "*") {
        const field = findField(route.input, body);
        expect(field?.kind, `body field "${body}"`).toBe("message");
      }
      if (responseBody !== "") {
        expect(findField(route.output, responseBody)?.kind, `response_body "${responseBody}"`).toBe(
          "message",
        );
      }
    },
  );

  it("never let two rules match the same request", () => {
    const overlaps = (a: Route, b: Route) =>
      a.method === b.method &&
      a.customVerb === b.customVerb &&
      a.segments.length === b.segments.length &&
      a.segments.every((s, i) => s === "{}" || b.segments[i] === "{}" || s === b.segments[i]);
    const collisions: string[] = [];
    routes.forEach((a, i) => {
      for (const b of routes.slice(i + 1)) {
        if (overlaps(a, b)) collisions.push(`${a.rpc} ${a.template} ~ ${b.rpc} ${b.template}`);
      }
    });
    expect(collisions).toEqual([]);
  });

  it("detects a collision when one is introduced (the check itself works)", () => {
    const a = parseTemplate("/api/v1/models/{id}");
    const b = parseTemplate("/api/v1/models/latest");
    const c = parseTemplate("/api/v1/models/{id}:addTags");
    expect(a.segments.every((s, i) => s === "{}" || b.segments[i] === "{}" || s === b.segments[i])).toBe(
      true,
    );
    expect(a.customVerb).toBe("");
    expect(c.customVerb).toBe("addTags");
  });
});
