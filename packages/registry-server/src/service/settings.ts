/** Tunes the streaming methods; see `RegistryServerOptions.streams`. */
export interface StreamSettings {
  /** How often open watches look for changes made by other replicas. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long a watch may stay silent before it gets a progress notification. Default 10 000 ms. */
  progressIntervalMs?: number;
  /** How many imported models are written per storage call (one transaction). Default 100. */
  importBatchSize?: number;
}

/** The settings with their defaults; throws TypeError for a value that would flood or never flush. */
export function resolveStreamSettings(settings: StreamSettings = {}): Required<StreamSettings> {
  const positive = (name: keyof StreamSettings, fallback: number) => {
    const value = settings[name];
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`createRegistryServer: \`streams.${name}\` must be a whole number of at least 1`);
    }
    return value;
  };
  return {
    pollIntervalMs: positive("pollIntervalMs", 250),
    progressIntervalMs: positive("progressIntervalMs", 10_000),
    importBatchSize: positive("importBatchSize", 100),
  };
}
