/**
 * Walking every page of a paged list call.
 *
 * @internal
 */

/**
 * Every item of every page `list` answers for `request`, fetching the next
 * page as the loop goes; the request's own `pageToken` is ignored.
 */
export async function* allPages<Q extends { pageToken?: string }, P extends { nextPageToken: string }, T>(
  list: (request: Q) => Promise<P>,
  request: Q,
  itemsOf: (page: P) => T[],
): AsyncGenerator<T, void, undefined> {
  let pageToken = "";
  do {
    const page = await list({ ...request, pageToken });
    yield* itemsOf(page);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
}
