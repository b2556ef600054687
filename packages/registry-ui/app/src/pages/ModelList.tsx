/** The searchable list of models: filter, sort, keyset paging, live marks. */
import { useEffect, useRef } from "preact/hooks";
import { ErrorNotice } from "../components/ErrorNotice";
import { addClause } from "../list/filter";
import { ModelTable } from "../list/ModelTable";
import { isFilterError, SearchForm } from "../list/SearchForm";
import { useListing } from "../list/useListing";
import { navigate } from "../router";
import { useDocumentTitle } from "../shell/title";

/** The list's route parameters (from `#/?filter=&orderBy=`). */
export interface ModelListProps {
  readonly filter: string;
  readonly orderBy: string;
}

/** The list page. */
export function ModelList({ filter, orderBy }: ModelListProps) {
  const listing = useListing(filter, orderBy);
  useDocumentTitle(filter === "" ? "Models" : `Models: ${filter}`);
  const search = (nextFilter: string, nextOrder: string) => {
    if (nextFilter === filter && nextOrder === orderBy) listing.retry();
    else navigate({ page: "list", filter: nextFilter, orderBy: nextOrder });
  };
  const { rows, shown, loading, error, pendingNew, page, hasNext } = listing;
  const previousButton = useRef<HTMLButtonElement>(null);
  const nextButton = useRef<HTMLButtonElement>(null);
  const usedButton = useRef<HTMLButtonElement | null>(null);
  // A keyboard user paging to an end keeps the focus: it moves to the other button, not to the page
  // (the browser may already have moved it off the disabled button to the body).
  useEffect(() => {
    const used = usedButton.current;
    const focused = document.activeElement;
    if (used === null || !used.disabled || (focused !== used && focused !== document.body)) return;
    (used === nextButton.current ? previousButton : nextButton).current?.focus();
  }, [hasNext, page]);
  const otherError = error !== null && !isFilterError(error) ? error : null;
  return (
    <>
      <h1 class="visually-hidden">Models</h1>
      <SearchForm filter={filter} orderBy={orderBy} error={error} onSearch={search} />
      <ErrorNotice error={otherError} id="list-error" />
      {pendingNew > 0 && (
        <p class="pending-new">
          <button type="button" onClick={listing.reload}>
            {pendingNew} new {pendingNew === 1 ? "model" : "models"} — show
          </button>
        </p>
      )}
      <ModelTable
        rows={rows}
        loading={loading}
        onRefine={(clause) => search(addClause(shown?.filter ?? filter, clause), orderBy)}
      />
      {shown !== null && rows.length === 0 && !loading && <p class="empty">No models match</p>}
      {shown === null && loading && <p class="loading">Loading models…</p>}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          ref={previousButton}
          disabled={page <= 1}
          onClick={(e) => {
            usedButton.current = e.currentTarget;
            listing.previous();
          }}
        >
          Previous page
        </button>
        <span class="page-number">Page {page}</span>
        <button
          type="button"
          ref={nextButton}
          disabled={!hasNext}
          onClick={(e) => {
            usedButton.current = e.currentTarget;
            listing.next();
          }}
        >
          Next page
        </button>
      </nav>
    </>
  );
}
