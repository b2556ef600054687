// The auth file's strict validation (each mistake named by its entry, no
// hash or token repeated), the names a client certificate is known by, and
// the start-up check that every ModelService method has its role.
import { ModelService } from "@modelreg/proto";
import { describe, expect, it } from "vitest";
import { checkMethodRoles, hashToken, methodRoles } from "../index";
import { parseAuthFile } from "./auth-file";
import { subjectAltNames } from "./certificate";

const hash = hashToken("s3cret-token");
const file = (value: unknown) => JSON.stringify(value);
const refusal = (text: string) => {
  try {
    parseAuthFile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return (error as Error).message;
  }
  throw new Error("the file was accepted");
};

describe("hashToken", () => {
  it("is the hex SHA-256 of the token's UTF-8 bytes", () => {
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("the auth file", () => {
  it("maps token hashes and certificate names to principals and roles", () => {
    const parsed = parseAuthFile(
      file({
        tokens: [{ sha256: hash.toUpperCase(), subject: "ci-bot", roles: ["writer", "writer"] }],
        certificates: [{ subject: "URI:spiffe://example.org/trainer", roles: ["reader"] }],
      }),
    );
    expect(parsed.tokens.map((t) => [t.hash.toString("hex"), t.principal])).toEqual([
      [hash, { subject: "ci-bot", roles: ["writer"] }],
    ]);
    expect(parsed.certificates).toEqual([
      {
        name: "URI:spiffe://example.org/trainer",
        principal: { subject: "URI:spiffe://example.org/trainer", roles: ["reader"] },
      },
    ]);
    expect(parseAuthFile("{}")).toEqual({ tokens: [], certificates: [] });
  });

  it("refuses each mistake with the entry it is in, never repeating a hash or a token", () => {
    const ok = { sha256: hash, subject: "ci-bot", roles: ["reader"] };
    const other = hashToken("other");
    expect(refusal("{ tokens: [")).toBe("is not valid JSON");
    expect(refusal("[]")).toMatch(/must be a JSON object/);
    expect(refusal(file({ token: [] }))).toMatch(/the file: .*"token"/);
    expect(refusal(file({ tokens: {} }))).toBe('"tokens" must be an array');
    expect(refusal(file({ tokens: [ok, { ...ok, sha256: other, roles: ["owner"] }] }))).toBe(
      'tokens[1]: unknown role "owner" (roles are reader, writer, admin)',
    );
    expect(refusal(file({ tokens: [{ ...ok, roles: [] }] }))).toMatch(/^tokens\[0\]: "roles" must be/);
    expect(refusal(file({ tokens: [{ ...ok, sha256: "abc" }] }))).toMatch(/^tokens\[0\]: "sha256" must be/);
    expect(refusal(file({ tokens: [ok, { ...ok, sha256: hash.toUpperCase() }] }))).toBe(
      "tokens[1] (ci-bot): the same sha256 as an earlier token",
    );
    expect(refusal(file({ tokens: [{ ...ok, subject: "" }] }))).toMatch(/^tokens\[0\]: "subject"/);
    expect(refusal(file({ tokens: [{ ...ok, subject: "a\nb" }] }))).toMatch(/control characters/);
    const plain = refusal(file({ tokens: [{ ...ok, token: "s3cret-token" }] }));
    expect(plain).toMatch(/^tokens\[0\]: holds a plain "token"; store only its "sha256"/);
    const leaked = refusal(file({ tokens: [{ ...ok, sha256: "s3cret-token" }] }));
    for (const message of [plain, leaked]) expect(message).not.toContain("s3cret");
    expect(refusal(file({ tokens: [{ ...ok, sha256: hash.slice(0, 63) }] }))).not.toContain(
      hash.slice(0, 63),
    );
    expect(refusal(file({ certificates: [{ subject: "trainer", roles: ["reader"] }] }))).toMatch(
      /^certificates\[0\]: "subject" must be CN=<common name>, or a subject alternative name/,
    );
    const cn = { subject: "CN=trainer", roles: ["reader"] };
    expect(refusal(file({ certificates: [cn, cn] }))).toBe("certificates[1]: CN=trainer is listed twice");
  });
});

describe("certificate names", () => {
  it("reads Node's subjectaltname in the auth file's spelling, quoted values included", () => {
    expect(
      subjectAltNames(
        'DNS:trainer, URI:spiffe://example.org/trainer, IP Address:10.0.0.1, email:a@b.org, DNS:"a, b", othername:<unsupported>',
      ),
    ).toEqual([
      "DNS:trainer",
      "URI:spiffe://example.org/trainer",
      "IP:10.0.0.1",
      "email:a@b.org",
      "DNS:a, b",
    ]);
    expect(subjectAltNames(undefined)).toEqual([]);
  });
});

describe("the method -> role table", () => {
  it("gives every ModelService method a role: reads reader, changes writer, DeleteModel admin", () => {
    expect(Object.keys(methodRoles).sort()).toEqual(ModelService.methods.map((m) => m.name).sort());
    expect(methodRoles.ListModels).toBe("reader");
    expect(methodRoles.WatchModels).toBe("reader");
    expect(methodRoles.ImportModels).toBe("writer");
    expect(methodRoles.DeleteModel).toBe("admin");
    expect(() => checkMethodRoles(methodRoles)).not.toThrow();
  });

  it("refuses, naming the method, a table that misses one, names an unknown one or an unknown role", () => {
    const { DeleteModel: _, ...withoutDelete } = methodRoles;
    expect(() => checkMethodRoles(withoutDelete)).toThrow(
      new TypeError(
        "methodRoles: modelregistry.v1.ModelService/DeleteModel has no required role; give it one of reader, writer, admin in the methodRoles table (src/auth/roles.ts)",
      ),
    );
    // The next issue's new RPC, in a service description that has it: refused until it has a role.
    const [getModel] = ModelService.methods;
    const grown = {
      ...ModelService,
      methods: [...ModelService.methods, { ...getModel, name: "PromoteModel" }],
    };
    expect(() => checkMethodRoles(methodRoles, grown as typeof ModelService)).toThrow(
      "methodRoles: modelregistry.v1.ModelService/PromoteModel has no required role",
    );
    expect(() => checkMethodRoles({ ...methodRoles, PromoteModel: "admin" })).toThrow(
      "methodRoles: modelregistry.v1.ModelService has no method PromoteModel",
    );
    expect(() => checkMethodRoles({ ...methodRoles, GetModel: "owner" })).toThrow(
      'methodRoles: modelregistry.v1.ModelService/GetModel needs one of reader, writer, admin, not "owner"',
    );
  });
});
