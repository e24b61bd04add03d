/**
 * Preload (sandboxed, bundled to CommonJS): exposes exactly `window.fulmen = { call, on }`.
 *  - call(method, params) → Promise<result>; rejects with a plain `{ code, message }` object.
 *  - on(event, handler) → unsubscribe function; `event` is one of core/api/events.ts names.
 * No Node or Electron object reaches the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { FULMEN_EVENT_NAMES, type FulmenEventMessage, type FulmenEventName } from '../core/api/events.js';

type CallReply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

contextBridge.exposeInMainWorld('fulmen', {
  async call(method: string, params: unknown): Promise<unknown> {
    if (typeof method !== 'string') throw { code: 'BAD_INPUT', message: 'method must be a string' };
    const reply = (await ipcRenderer.invoke('fulmen:call', method, params ?? {})) as CallReply;
    if (reply.ok) return reply.result;
    throw { code: reply.error.code, message: reply.error.message };
  },
  on(event: FulmenEventName, handler: (data: unknown) => void): () => void {
    if (!FULMEN_EVENT_NAMES.includes(event) || typeof handler !== 'function') return () => {};
    const listener = (_e: IpcRendererEvent, message: FulmenEventMessage): void => {
      if (message.event === event) handler(message.data);
    };
    ipcRenderer.on('fulmen:event', listener);
    return () => {
      ipcRenderer.removeListener('fulmen:event', listener);
    };
  },
});
