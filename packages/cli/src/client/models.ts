import type { RegisterCommands } from "../context";

/** (Being written.) */
export const registerModelCommands: RegisterCommands = () => {};
