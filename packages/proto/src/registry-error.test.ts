import { describe, expect, it } from "vitest";
import { Any, BadRequest, Code, ErrorInfo, RegistryError, Status } from "./index";

describe("RegistryError", () => {
  it("carries violations and a reason as google.rpc.Status details, and reads them back", () => {
    const error = new RegistryError(Code.INVALID_ARGUMENT, "Invalid request", {
      violations: [{ field: "model.name", description: "is required" }],
      reason: "BAD_MODEL",
    });
    const status = Status.fromBinary(Status.toBinary(error.toStatus()));
    expect(status.code).toBe(3);
    expect(status.details.map((d) => d.typeUrl)).toEqual([
      "type.googleapis.com/google.rpc.BadRequest",
      "type.googleapis.com/google.rpc.ErrorInfo",
    ]);
    const detail = status.details[1];
    expect(detail && Any.unpack(detail, ErrorInfo)).toMatchObject({
      reason: "BAD_MODEL",
      domain: "modelreg.dev",
    });

    const back = RegistryError.fromStatus(status);
    expect(back.code).toBe(Code.INVALID_ARGUMENT);
    expect(back.violations).toEqual([{ field: "model.name", description: "is required" }]);
    expect(back.reason).toBe("BAD_MODEL");
  });

  it("wraps unknown errors without revealing them", () => {
    const secret = new Error("password=hunter2");
    const wrapped = RegistryError.from(secret);
    expect(wrapped.code).toBe(Code.INTERNAL);
    expect(wrapped.message).toBe("Internal error.");
    expect(wrapped.cause).toBe(secret);
    expect(JSON.stringify(wrapped.toStatus())).not.toContain("hunter2");
    expect(RegistryError.from(secret, Code.UNAVAILABLE).message).toMatch(/unavailable/);
    const same = new RegistryError(Code.NOT_FOUND, "nope");
    expect(RegistryError.from(same)).toBe(same);
  });

  it("is recognised by instanceof across two installed copies (a shared brand, not class identity)", () => {
    const fromOtherCopy = Object.defineProperty(new Error("x"), Symbol.for("@modelreg/RegistryError"), {
      value: true,
    });
    expect(fromOtherCopy instanceof RegistryError).toBe(true);
    expect(new Error("plain") instanceof RegistryError).toBe(false);
    expect((null as unknown as object) instanceof RegistryError).toBe(false);
  });

  it("maps an unknown status code to UNKNOWN and keeps details it does not interpret", () => {
    const other = Any.pack(BadRequest.create(), BadRequest);
    const error = RegistryError.fromStatus(Status.create({ code: 99, message: "odd", details: [other] }));
    expect(error.code).toBe(Code.UNKNOWN);
    expect(error.details).toHaveLength(1);
  });
});
