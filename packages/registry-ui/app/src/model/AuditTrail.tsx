/** The Audit trail section: the name's history, newest first, a page at a time. */
import { useState } from "preact/hooks";
import type { HistoryEntry } from "../api/types";
import { Badge } from "../components/Badge";
import { ErrorNotice } from "../components/ErrorNotice";
import { Time } from "../components/Time";
import { describeEntry, refusalLines } from "./format";

/** Props of {@link AuditTrail}. */
export interface AuditTrailProps {
  readonly entries: readonly HistoryEntry[] | undefined;
  readonly hasMore: boolean;
  readonly loadMore: () => Promise<void>;
}

function EntryRow({ entry }: { readonly entry: HistoryEntry }) {
  const refusal = refusalLines(entry);
  return (
    <tr data-revision={entry.revision} data-refused={refusal ? "true" : undefined}>
      <td>
        <Time value={entry.commitTime} />
      </td>
      <td>{entry.actor || <span class="mp-muted">anonymous</span>}</td>
      <td>
        {describeEntry(entry)}
        {refusal ? (
          <div>
            <Badge text="refused" />: {refusal.message}
            {refusal.violations.length ? (
              <ul class="mp-plain">
                {refusal.violations.map((v) => (
                  <li key={v}>{v}</li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}
      </td>
    </tr>
  );
}

/** The audit trail table and its "Load more" button. */
export function AuditTrail({ entries, hasMore, loadMore }: AuditTrailProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const more = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await loadMore();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="trail-heading" class="mp-section">
      <h2 id="trail-heading">Audit trail</h2>
      {entries === undefined ? (
        <p role="status">Loading the audit trail…</p>
      ) : (
        <>
          <div class="mp-scroll">
            <table class="mp-table">
              <caption class="mp-visually-hidden">Audit trail</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">What</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <EntryRow key={entry.revision} entry={entry} />
                ))}
              </tbody>
            </table>
          </div>
          {hasMore ? (
            <button type="button" disabled={busy} onClick={more}>
              Load more
            </button>
          ) : null}
          {error ? <ErrorNotice error={error} /> : null}
        </>
      )}
    </section>
  );
}
