import { createHash } from "node:crypto";
import type { Principal } from "../context";
import { isRole, type Role, roles } from "./roles";

/**
 * The hex SHA-256 of a bearer token, as the auth file stores it: the file
 * never holds a token, only what it hashes to.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A bearer token's hash and whom it names. */
export interface TokenEntry {
  /** The token's SHA-256, 32 bytes. */
  readonly hash: Buffer;
  readonly principal: Principal;
}

/** A client certificate name and the principal it maps to. */
export interface CertificateEntry {
  /** `CN=<common name>`, or a subject alternative name: `DNS:`, `URI:`, `IP:` or `email:`. */
  readonly name: string;
  readonly principal: Principal;
}

/** A validated auth file. */
export interface AuthFile {
  readonly tokens: readonly TokenEntry[];
  readonly certificates: readonly CertificateEntry[];
}

const certificateName = /^(?:CN=|DNS:|URI:|IP:|email:)\S/;
const hex64 = /^[0-9a-fA-F]{64}$/;
const maxSubjectLength = 256;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Refuses fields other than `allowed`; a plain `token` gets its own message, without its value. */
function checkFields(where: string, entry: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(entry)) {
    if (allowed.includes(key)) continue;
    if (key === "token") {
      throw new TypeError(
        `${where}: holds a plain "token"; store only its "sha256" (hashToken(token)), and replace the token, which the file has exposed`,
      );
    }
    throw new TypeError(`${where}: unknown field ${JSON.stringify(key)} (expected ${allowed.join(", ")})`);
  }
}

function principalOf(where: string, entry: Record<string, unknown>, subject: unknown): Principal {
  if (typeof subject !== "string" || subject.trim() === "" || subject.length > maxSubjectLength) {
    throw new TypeError(
      `${where}: "subject" must be a non-empty string of at most ${maxSubjectLength} characters`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f]/.test(subject)) {
    throw new TypeError(`${where}: "subject" must not hold control characters`);
  }
  const listed = entry.roles;
  if (!Array.isArray(listed) || listed.length === 0) {
    throw new TypeError(`${where}: "roles" must be a non-empty array of ${roles.join(", ")}`);
  }
  for (const role of listed) {
    if (!isRole(role)) {
      throw new TypeError(`${where}: unknown role ${JSON.stringify(role)} (roles are ${roles.join(", ")})`);
    }
  }
  return Object.freeze({ subject, roles: Object.freeze([...new Set<Role>(listed)]) });
}

function parseToken(where: string, entry: unknown, seen: Set<string>): TokenEntry {
  if (!isObject(entry)) throw new TypeError(`${where}: must be an object with sha256, subject and roles`);
  checkFields(where, entry, ["sha256", "subject", "roles"]);
  const { sha256 } = entry;
  if (typeof sha256 !== "string" || !hex64.test(sha256)) {
    throw new TypeError(
      `${where}: "sha256" must be the 64 hex digits of the token's SHA-256 (hashToken(token))`,
    );
  }
  const principal = principalOf(where, entry, entry.subject);
  const hash = sha256.toLowerCase();
  if (seen.has(hash))
    throw new TypeError(`${where} (${principal.subject}): the same sha256 as an earlier token`);
  seen.add(hash);
  return Object.freeze({ hash: Buffer.from(hash, "hex"), principal });
}

function parseCertificate(where: string, entry: unknown, seen: Set<string>): CertificateEntry {
  if (!isObject(entry)) throw new TypeError(`${where}: must be an object with subject and roles`);
  checkFields(where, entry, ["subject", "roles"]);
  const principal = principalOf(where, entry, entry.subject);
  const name = principal.subject;
  if (!certificateName.test(name)) {
    throw new TypeError(
      `${where}: "subject" must be CN=<common name>, or a subject alternative name DNS:, URI:, IP: or email: (got ${JSON.stringify(name)})`,
    );
  }
  if (seen.has(name)) throw new TypeError(`${where}: ${name} is listed twice`);
  seen.add(name);
  return Object.freeze({ name, principal });
}

function entries(file: Record<string, unknown>, key: "tokens" | "certificates"): readonly unknown[] {
  const list = file[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new TypeError(`"${key}" must be an array`);
  return list;
}

/**
 * Validates an auth file's text, strictly: unknown fields and roles, a
 * malformed or repeated hash, a repeated certificate name each throw a
 * TypeError naming the entry (`tokens[2]`), never a hash or a token.
 */
export function parseAuthFile(text: string): AuthFile {
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the fault: not repeated.
    throw new TypeError("is not valid JSON");
  }
  if (!isObject(file))
    throw new TypeError('must be a JSON object: { "tokens": [...], "certificates": [...] }');
  checkFields("the file", file, ["tokens", "certificates"]);
  const hashes = new Set<string>();
  const names = new Set<string>();
  return Object.freeze({
    tokens: Object.freeze(entries(file, "tokens").map((e, i) => parseToken(`tokens[${i}]`, e, hashes))),
    certificates: Object.freeze(
      entries(file, "certificates").map((e, i) => parseCertificate(`certificates[${i}]`, e, names)),
    ),
  });
}
