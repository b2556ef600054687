import type { RegisterCommands } from "../context";

/** `modelreg serve`, `modelreg gateway` and `modelreg up`. (Contract stub: replaced by the servers' author.) */
export const registerServerCommands: RegisterCommands = () => {};
