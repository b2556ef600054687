/** The searchable list of models. CONTRACT: helper A implements. */
export interface ModelListProps {
  readonly filter: string;
  readonly orderBy: string;
}

/** The list page. */
export function ModelList(_props: ModelListProps) {
  return <p>list</p>;
}
