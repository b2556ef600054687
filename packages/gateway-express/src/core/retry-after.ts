import { Any, Code, Duration, RegistryError, RetryInfo } from "@modelreg/proto";

/**
 * The `Retry-After` header (whole seconds, rounded up) for a
 * RESOURCE_EXHAUSTED error that carries a `google.rpc.RetryInfo`: the
 * registry's admission control refusing a call becomes a 429 that says
 * when to come back. Nothing for other errors.
 */
export function retryAfterHeader(error: RegistryError): Readonly<Record<string, string>> {
  if (error.code !== Code.RESOURCE_EXHAUSTED) return {};
  const detail = error.details.find((d) => Any.contains(d, RetryInfo));
  const delay = detail && Any.unpack(detail, RetryInfo).retryDelay;
  if (!delay) return {};
  const seconds = Math.ceil(Number(delay.seconds) + delay.nanos / 1e9);
  return Number.isSafeInteger(seconds) && seconds >= 0 ? { "retry-after": String(seconds) } : {};
}

/**
 * RESOURCE_EXHAUSTED telling the caller to come back in `seconds` (a
 * `google.rpc.RetryInfo`, which {@link retryAfterHeader} turns into the
 * `Retry-After` of the 429).
 */
export function exhausted(message: string, seconds: number, reason?: string): RegistryError {
  const retryDelay = Duration.create({ seconds: BigInt(seconds) });
  return new RegistryError(Code.RESOURCE_EXHAUSTED, message, {
    ...(reason === undefined ? {} : { reason }),
    details: [Any.pack(RetryInfo.create({ retryDelay }), RetryInfo)],
  });
}
