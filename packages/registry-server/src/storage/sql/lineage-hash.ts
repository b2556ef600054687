import { createHash } from "node:crypto";

/**
 * The indexed key of a lineage list value: the lower-case hex SHA-256 of its
 * UTF-8 bytes. A 2048-character URI is too long for a MySQL index key
 * (3072 bytes, 4 per utf8mb4 character), so lookups go by this hash and
 * compare the value too.
 */
export function lineageHash(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}
