import { HttpRule, ModelService } from "@modelreg/proto";
import type { FieldInfo, IMessageType } from "@protobuf-ts/runtime";

// biome-ignore lint/suspicious/noExplicitAny: routes carry message types of every shape.
type AnyMessageType = IMessageType<any>;
/** A method of the service as protobuf-ts describes it (`MethodInfo`): name, message types, options. */
export type ServiceMethod = (typeof ModelService.methods)[number];

/** One segment of a path template: literal text, or a variable bound to a request field. */
export type Segment = { readonly literal: string } | { readonly field: string };

/** A REST route, built from one `google.api.http` rule (AIP-127). */
export interface Route {
  /** HTTP method, upper case. */
  readonly httpMethod: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The template as written in the proto, e.g. `/api/v1/models/{id}:addTags`. */
  readonly template: string;
  readonly segments: readonly Segment[];
  /** The custom verb after `:` in the last segment, or "". */
  readonly verb: string;
  /** `""` (no body), `"*"` (the whole request) or a request field name. */
  readonly body: string;
  /** `""` (the whole response) or a response field name. */
  readonly responseBody: string;
  /** The RPC the route calls, as the generated service describes it. */
  readonly method: ServiceMethod;
  /** The RPC's name, e.g. `CreateModel` (for logs and operation ids). */
  readonly rpc: string;
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
  readonly input: AnyMessageType;
  readonly output: AnyMessageType;
}

/** Finds a field by its proto name along a dotted path. */
export function findField(type: AnyMessageType, path: string): FieldInfo | undefined {
  const [head, ...rest] = path.split(".");
  const field = type.fields.find((f) => f.name === head);
  if (!field || rest.length === 0) return field;
  return field.kind === "message" ? findField(field.T(), rest.join(".")) : undefined;
}

function parseTemplate(template: string, rpc: string): { segments: Segment[]; verb: string } {
  const fail = (why: string) => new Error(`${rpc}: invalid HTTP path template "${template}": ${why}`);
  if (!template.startsWith("/")) throw fail("it must start with /");
  const lastSlash = template.lastIndexOf("/");
  const colon = template.indexOf(":", lastSlash);
  const closingBrace = template.lastIndexOf("}");
  const hasVerb = colon !== -1 && colon > closingBrace;
  const path = hasVerb ? template.slice(0, colon) : template;
  const verb = hasVerb ? template.slice(colon + 1) : "";
  if (hasVerb && !/^[A-Za-z][A-Za-z0-9]*$/.test(verb)) throw fail(`bad custom verb "${verb}"`);
  const segments = path
    .slice(1)
    .split("/")
    .map((part): Segment => {
      const variable = /^\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\}$/.exec(part);
      if (variable?.[1]) return { field: variable[1] };
      if (!/^[A-Za-z0-9._~-]+$/.test(part)) throw fail(`unsupported segment "${part}"`);
      return { literal: part };
    });
  return { segments, verb };
}

function routeOf(method: ServiceMethod): Route | undefined {
  const raw = method.options["google.api.http"];
  if (raw === undefined) return undefined;
  const rule = HttpRule.fromJson(raw);
  if (rule.additionalBindings.length > 0)
    throw new Error(`${method.name}: additional_bindings are not supported`);
  const pattern = rule.pattern;
  if (pattern.oneofKind === undefined || pattern.oneofKind === "custom") {
    throw new Error(`${method.name}: the HTTP rule needs get, put, post, patch or delete`);
  }
  const template = (pattern as unknown as Record<string, string>)[pattern.oneofKind] ?? "";
  const { segments, verb } = parseTemplate(template, method.name);
  for (const segment of segments) {
    if ("field" in segment) {
      const field = findField(method.I, segment.field);
      if (field?.kind !== "scalar" || field.repeat) {
        throw new Error(
          `${method.name}: path variable {${segment.field}} is not a singular scalar request field`,
        );
      }
    }
  }
  if (rule.body !== "" && rule.body !== "*" && findField(method.I, rule.body)?.kind !== "message") {
    throw new Error(`${method.name}: body "${rule.body}" is not a message field of ${method.I.typeName}`);
  }
  if (rule.responseBody !== "" && !findField(method.O, rule.responseBody)) {
    throw new Error(
      `${method.name}: response_body "${rule.responseBody}" is not a field of ${method.O.typeName}`,
    );
  }
  return {
    httpMethod: pattern.oneofKind.toUpperCase() as Route["httpMethod"],
    template,
    segments,
    verb,
    body: rule.body,
    responseBody: rule.responseBody,
    method,
    rpc: method.name,
    clientStreaming: method.clientStreaming,
    serverStreaming: method.serverStreaming,
    input: method.I,
    output: method.O,
  };
}

/** Whether two routes could match the same request. */
function overlaps(a: Route, b: Route): boolean {
  return (
    a.httpMethod === b.httpMethod &&
    a.verb === b.verb &&
    a.segments.length === b.segments.length &&
    a.segments.every((s, i) => {
      const t = b.segments[i];
      return !t || "field" in s || "field" in t || s.literal === t.literal;
    })
  );
}

/**
 * The route table, built at start-up from the service's `google.api.http`
 * annotations: adding an annotated RPC adds a route, with no handler code.
 * Throws if a rule is malformed or two rules could match the same request.
 */
export function buildRoutes(methods: readonly ServiceMethod[] = ModelService.methods): Route[] {
  const routes = methods.map(routeOf).filter((r): r is Route => r !== undefined);
  routes.forEach((a, i) => {
    for (const b of routes.slice(i + 1)) {
      if (overlaps(a, b)) {
        throw new Error(
          `HTTP rules conflict: ${a.rpc} (${a.httpMethod} ${a.template}) and ${b.rpc} (${b.httpMethod} ${b.template})`,
        );
      }
    }
  });
  return routes;
}

/** The result of matching a request path against the table. */
export type RouteMatch =
  | { readonly kind: "found"; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  /** The path exists for other methods. */
  | { readonly kind: "methodNotAllowed"; readonly allowed: readonly string[] }
  | { readonly kind: "notFound" };

/** The routes of a table by custom verb and segment count: a request is matched only against those. */
const routeIndexes = new WeakMap<readonly Route[], Map<string, Route[]>>();

function candidatesOf(routes: readonly Route[], verb: string, segments: number): readonly Route[] {
  let index = routeIndexes.get(routes);
  if (index === undefined) {
    index = new Map();
    for (const route of routes) {
      const key = `${route.verb} ${route.segments.length}`;
      index.set(key, [...(index.get(key) ?? []), route]);
    }
    routeIndexes.set(routes, index);
  }
  return index.get(`${verb} ${segments}`) ?? [];
}

/** The path variables of `parts` if they match the route's segments; undefined if they do not. */
function paramsOf(route: Route, parts: readonly string[]): Record<string, string> | undefined {
  const { segments } = route;
  // Literals first: most routes are ruled out without decoding anything.
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    const part = parts[i] ?? "";
    if ("literal" in segment ? segment.literal !== part : part === "") return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    if ("literal" in segment) continue;
    try {
      params[segment.field] = decodeURIComponent(parts[i] ?? "");
    } catch {
      return undefined;
    }
  }
  return params;
}

/**
 * Matches a method and a raw path (without the query) against the routes.
 * Path variables are percent-decoded; a variable never spans `/`.
 */
export function matchRoute(routes: readonly Route[], httpMethod: string, rawPath: string): RouteMatch {
  const lastSlash = rawPath.lastIndexOf("/");
  const colon = rawPath.indexOf(":", lastSlash);
  const path = colon === -1 ? rawPath : rawPath.slice(0, colon);
  const verb = colon === -1 ? "" : rawPath.slice(colon + 1);
  const parts = path.slice(1).split("/");
  const method = httpMethod.toUpperCase();
  let allowed: Set<string> | undefined;
  for (const route of candidatesOf(routes, verb, parts.length)) {
    const params = paramsOf(route, parts);
    if (params === undefined) continue;
    // HEAD is GET without the body (RFC 9110 9.3.2).
    if (route.httpMethod === method || (method === "HEAD" && route.httpMethod === "GET")) {
      return { kind: "found", route, params };
    }
    allowed ??= new Set();
    allowed.add(route.httpMethod);
  }
  return allowed ? { kind: "methodNotAllowed", allowed: [...allowed] } : { kind: "notFound" };
}
