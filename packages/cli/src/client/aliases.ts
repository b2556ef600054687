import type { RegisterCommands } from "../context";

/** (Being written.) */
export const registerAliasCommands: RegisterCommands = () => {};
