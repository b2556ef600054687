import { ModelService } from "@modelreg/proto";
import type { MethodInfo, Principal } from "../context";

/**
 * The roles of the built-in authorizer, weakest first: each includes the
 * ones before it (an `admin` may do what a `writer` may, a `writer` what a
 * `reader` may).
 */
export type Role = "reader" | "writer" | "admin";

/** Every {@link Role}, weakest first. */
export const roles: readonly Role[] = Object.freeze(["reader", "writer", "admin"] as const);

/**
 * The role each ModelService method needs, keyed by its proto name: the one
 * table of what the built-in authorizer (`createTokenAuth`) lets a caller
 * do. A ModelService method without an entry here refuses to start every
 * server (see {@link checkMethodRoles}), so a new RPC cannot ship
 * unprotected.
 */
export const methodRoles: Readonly<Record<string, Role>> = Object.freeze({
  GetModel: "reader",
  LookupModel: "reader",
  ListModels: "reader",
  BatchGetModels: "reader",
  WatchModels: "reader",
  GetModelAlias: "reader",
  ListModelAliases: "reader",
  ListModelHistory: "reader",
  CreateModel: "writer",
  UpdateModel: "writer",
  AddModelTags: "writer",
  RemoveModelTags: "writer",
  UpdateModelMetadata: "writer",
  ImportModels: "writer",
  SetModelAlias: "writer",
  DeleteModelAlias: "writer",
  DeleteModel: "admin",
});

/** Whether `name` is one of the {@link roles}. */
export function isRole(name: unknown): name is Role {
  return typeof name === "string" && (roles as readonly string[]).includes(name);
}

/**
 * Throws a TypeError naming the method when `table` lacks a role for one of
 * `service`'s methods (ModelService by default), names a method the service
 * does not have, or gives one a role that is not a {@link Role}. Every
 * server runs it on {@link methodRoles} when it is created.
 */
export function checkMethodRoles(
  table: Readonly<Record<string, unknown>>,
  service: { readonly typeName: string; readonly methods: readonly MethodInfo[] } = ModelService,
): void {
  const names = new Set(service.methods.map((method) => method.name));
  for (const name of Object.keys(table)) {
    if (!names.has(name)) throw new TypeError(`methodRoles: ${service.typeName} has no method ${name}`);
  }
  for (const { name } of service.methods) {
    const role = Object.hasOwn(table, name) ? table[name] : undefined;
    if (role === undefined) {
      throw new TypeError(
        `methodRoles: ${service.typeName}/${name} has no required role; give it one of ${roles.join(", ")} in the methodRoles table (src/auth/roles.ts)`,
      );
    }
    if (!isRole(role)) {
      throw new TypeError(
        `methodRoles: ${service.typeName}/${name} needs one of ${roles.join(", ")}, not ${JSON.stringify(role)}`,
      );
    }
  }
}

/**
 * Whether `principal` holds `role`, or a stronger one (roles are ordered:
 * `admin` includes `writer` includes `reader`). Roles it holds that are
 * not {@link roles} count for nothing here.
 */
export function hasRole(principal: Principal | undefined, role: Role): boolean {
  if (!principal) return false;
  const needed = roles.indexOf(role);
  return principal.roles.some((held) => isRole(held) && roles.indexOf(held) >= needed);
}
