import type { RegisterCommands } from "../context";

/** `modelreg migrate [--dry-run]`. (Contract stub: replaced by the migrations' author.) */
export const registerMigrateCommand: RegisterCommands = () => {};
