import { useEffect, useState, type KeyboardEvent } from 'react';
import { useStore } from './store/index.js';
import { StatusBar } from './components/StatusBar.js';
import { Logo } from './components/Logo.js';
import { Wizard } from './wizard/Wizard.js';
import { HistoryTab } from './tabs/History.js';
import { SendTab } from './tabs/Send.js';
import { ReceiveTab } from './tabs/Receive.js';
import { ChannelsTab } from './tabs/Channels.js';
import { PreferencesTab } from './tabs/Preferences.js';

const TABS = [
  { id: 'history', label: 'History', view: HistoryTab },
  { id: 'send', label: 'Send', view: SendTab },
  { id: 'receive', label: 'Receive', view: ReceiveTab },
  { id: 'channels', label: 'Channels', view: ChannelsTab },
  { id: 'preferences', label: 'Preferences', view: PreferencesTab },
] as const;

type TabId = (typeof TABS)[number]['id'];

/** The app shell: first-run wizard until a wallet is loaded, then the tabs and the status bar. */
export function App() {
  const walletLoaded = useStore((s) => s.walletLoaded);
  const connection = useStore((s) => s.connection);
  const onboarding = useStore((s) => s.onboarding);
  const [tab, setTab] = useState<TabId>('history');
  const tabRequest = useStore((s) => s.tabRequest);
  useEffect(() => {
    if (tabRequest) setTab(tabRequest.tab); // a link from another tab (store NavigationSlice)
  }, [tabRequest]);

  if (walletLoaded === null) {
    return (
      <div className="app">
        <main className="splash" aria-busy="true">
          <Logo size={48} />
          <p className="muted">{connection === 'closed' ? 'Waiting for Fulmen…' : 'Loading…'}</p>
        </main>
        <StatusBar />
      </div>
    );
  }
  if (!walletLoaded || onboarding) {
    return (
      <div className="app">
        <Wizard />
        <StatusBar />
      </div>
    );
  }

  const onKeyDown = (e: KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.id === tab);
    if (e.key === 'ArrowRight') setTab(TABS[(i + 1) % TABS.length]!.id);
    if (e.key === 'ArrowLeft') setTab(TABS[(i + TABS.length - 1) % TABS.length]!.id);
  };
  const Active = TABS.find((t) => t.id === tab)!.view;
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <Logo />
          <span>Fulmen</span>
        </div>
        <nav role="tablist" aria-label="Wallet" className="tabs" onKeyDown={onKeyDown}>
          {TABS.map((t) => (
            <button
              key={t.id}
              role="tab"
              id={`tab-${t.id}`}
              aria-selected={tab === t.id}
              aria-controls={`panel-${t.id}`}
              tabIndex={tab === t.id ? 0 : -1}
              className="tab"
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </nav>
      </header>
      <main className="content" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        <Active />
      </main>
      <StatusBar />
    </div>
  );
}
