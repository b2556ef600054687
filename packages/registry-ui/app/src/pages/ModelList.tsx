/** The searchable list of models: filter, sort, keyset paging, live marks. */
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
    if (nextFilter === filter && nextOrder === orderBy) listing.reload();
    else navigate({ page: "list", filter: nextFilter, orderBy: nextOrder });
  };
  const { rows, shown, loading, error, pendingNew, page } = listing;
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
        <button type="button" disabled={page <= 1 || loading} onClick={listing.previous}>
          Previous page
        </button>
        <span class="page-number">Page {page}</span>
        <button type="button" disabled={!listing.hasNext || loading} onClick={listing.next}>
          Next page
        </button>
      </nav>
    </>
  );
}
