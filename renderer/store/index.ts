import { create } from 'zustand';
import { call, errorMessage, on, onConnection, type ConnectionState } from '../api/client.js';
import type { GetInfoResult as GetInfo, ServerBanItem } from '../../core/api/client-types.js';
import type { Unit } from '../lib/units.js';
import {
  normalizeBalance,
  normalizeChannel,
  normalizeHistoryItem,
  normalizeRequest,
  sortHistory,
  type BalanceView,
  type ChannelView,
  type HistoryRow,
  type RequestView,
} from './normalize.js';

/**
 * The GUI's state: one zustand store made of slices, each filled by a command and refreshed when
 * the host pushes the matching event. Views never call the host for data they display; they read
 * the store and call actions (commands) that change the wallet.
 */

export interface StatusSlice {
  connection: ConnectionState;
  info: GetInfo | null;
  /** Last failure to reach the host, shown in the status bar. */
  statusError: string | null;
  /** null until known; false shows the first-run wizard. */
  walletLoaded: boolean | null;
  /**
   * True while the first-run wizard is between steps (seed shown, not yet confirmed). The daemon
   * opens a wallet as soon as `create`/`restore` returns; the wizard stays until it is finished.
   */
  onboarding: boolean;
}

export interface WalletSlice {
  balance: BalanceView | null;
  history: HistoryRow[];
  channels: ChannelView[];
  requests: RequestView[];
}

export interface PreferencesSlice {
  unit: Unit;
  setUnit(unit: Unit): Promise<void>;
  /** Electrum servers banned for lying (list_server_bans, then `server_bans` events); null until read. */
  serverBans: ServerBanItem[] | null;
  /** Why the last list_server_bans failed (e.g. NETWORK when offline); null after a success or an event. */
  serverBansError: string | null;
}

/**
 * Cross-tab links: `showInHistory(txid)` (e.g. a sweep on the Channels tab) asks the shell to
 * show the History tab (`tabRequest`, a new object per request) with that transaction's entry
 * (`historyFocus`: a txid, for the History tab to open; it clears it once shown).
 */
export interface NavigationSlice {
  tabRequest: { tab: 'history' } | null;
  historyFocus: string | null;
  showInHistory(txid: string): void;
  clearHistoryFocus(): void;
}

export type Slice = 'status' | 'balance' | 'history' | 'channels' | 'requests' | 'serverBans';

export interface Actions {
  refresh(...slices: Slice[]): Promise<void>;
  refreshAll(): Promise<void>;
  setWalletLoaded(loaded: boolean): void;
  setOnboarding(onboarding: boolean): void;
}

export type AppState = StatusSlice & WalletSlice & PreferencesSlice & NavigationSlice & Actions;

/** The config key holding the display unit (Electrum's name). */
export const UNIT_CONFIG_KEY = 'base_unit';

export const useStore = create<AppState>()((set, get) => {
  const loaders: Record<Slice, () => Promise<void>> = {
    status: async () => {
      const info = await call('getinfo');
      set({ info, statusError: null, walletLoaded: info.wallet_loaded });
    },
    balance: async () => set({ balance: normalizeBalance(await call('getbalance')) }),
    history: async () => set({ history: sortHistory((await call('history')).map(normalizeHistoryItem)) }),
    channels: async () => set({ channels: (await call('list_channels')).map(normalizeChannel) }),
    requests: async () => set({ requests: (await call('list_requests')).map(normalizeRequest).sort((a, b) => b.timestamp - a.timestamp) }),
    serverBans: async () => set({ serverBans: await call('list_server_bans'), serverBansError: null }),
  };

  return {
    connection: 'connecting',
    info: null,
    statusError: null,
    walletLoaded: null,
    onboarding: false,
    balance: null,
    history: [],
    channels: [],
    requests: [],
    unit: 'BTC',
    serverBans: null,
    serverBansError: null,
    tabRequest: null,
    historyFocus: null,

    showInHistory(txid) {
      set({ tabRequest: { tab: 'history' }, historyFocus: txid });
    },

    clearHistoryFocus() {
      set({ historyFocus: null });
    },

    async setUnit(unit) {
      set({ unit });
      await call('setconfig', { key: UNIT_CONFIG_KEY, value: unit });
    },

    async refresh(...slices) {
      await Promise.all(
        slices.map((s) =>
          loaders[s]().catch((err: unknown) => {
            if (s === 'status') set({ statusError: errorMessage(err) });
            if (s === 'serverBans') set({ serverBansError: errorMessage(err) });
          }),
        ),
      );
    },

    async refreshAll() {
      await get().refresh('status', 'serverBans');
      const unit = await call('getconfig', { key: UNIT_CONFIG_KEY }).catch(() => null);
      if (unit === 'BTC' || unit === 'sat') set({ unit });
      if (get().walletLoaded) await get().refresh('balance', 'history', 'channels', 'requests');
    },

    setWalletLoaded(loaded) {
      set({ walletLoaded: loaded });
    },

    setOnboarding(onboarding) {
      set({ onboarding });
    },
  };
});

/**
 * Connects the store to the host: a full refresh on (re)connect, then every pushed event
 * (core/api/events.ts) replaces its slice with the state it carries. A payment event also
 * refreshes requests, whose paid status has no event of its own.
 */
export function startSync(): () => void {
  const offs = [
    onConnection((connection) => {
      useStore.setState({ connection });
      if (connection === 'open') void useStore.getState().refreshAll();
    }),
    on('balance', (data) => useStore.setState({ balance: normalizeBalance(data) })),
    on('history', (data) => useStore.setState({ history: sortHistory(data.map(normalizeHistoryItem)) })),
    on('channels', (data) => useStore.setState({ channels: data.map(normalizeChannel) })),
    on('server_bans', (data) => useStore.setState({ serverBans: data, serverBansError: null })),
    on('payment', () => void useStore.getState().refresh('requests', 'history', 'balance')),
    on('status', (data) => {
      const { info, walletLoaded } = useStore.getState();
      useStore.setState({
        info: info && {
          ...info,
          network: data.network,
          connected: data.connected,
          server: data.server ?? info.server,
          blockchain_height: data.blockchain_height,
          wallet_loaded: data.wallet_loaded,
        },
        walletLoaded: data.wallet_loaded,
      });
      if (data.wallet_loaded && !walletLoaded) void useStore.getState().refreshAll();
    }),
  ];
  return () => offs.forEach((off) => off());
}
