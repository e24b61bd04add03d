import type { z } from 'zod';

/**
 * The shape of one entry of the command table (core/api/commands.ts). CLI parsing, JSON-RPC,
 * Electron IPC and the GUI client are all driven by this table; no host implements a command
 * on its own.
 */
export interface CommandSpec<P extends z.ZodTypeAny = z.ZodTypeAny, R = unknown> {
  /** Electrum's command name where Electrum has one (`getbalance`, `open_channel`, ...). */
  name: string;
  /** One line for `fulmen help` and the GUI. */
  description: string;
  /** Named parameters (Electrum's names), validated at the edge. */
  params: P;
  /** CLI positional order of parameters, e.g. ['destination', 'amount'] for payto. */
  positional?: readonly string[];
  /** What must be available before the handler runs. */
  requires: {
    /** A loaded wallet. */
    wallet?: boolean;
    /** A running daemon (not available with --offline). */
    daemon?: boolean;
  };
  /** May run with `--offline` directly on the wallet file / config, without a daemon. */
  offline?: boolean;
  run: (ctx: unknown, params: z.infer<P>) => Promise<R>;
}
