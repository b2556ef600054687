import type { RegisterCommands } from "../context";

/** `modelreg models export|import|watch`, added to the `models` command. (Contract stub: replaced by their author.) */
export const registerTransferCommands: RegisterCommands = () => {};
