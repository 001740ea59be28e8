// Who and where, with privacy first: no cookies; nothing at all when the viewer asks (Do Not
// Track, Global Privacy Control); a random viewer id in localStorage unless the integration opts
// out or keeps it to the session; a session id that slides like a browsing session; device facts from the
// browser's own hints.
import { fnv1a } from './hash';
import type { Props } from './wire';

const VIEWER_KEY = 'openqoe:viewer';
const SESSION_KEY = 'openqoe:session';
const SESSION_MS = 30 * 60_000;

/** A random id: a UUID where the browser has one, else 128 random bits in hex. */
export function randomId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Where the viewer id lives: the page's localStorage (`device`) or sessionStorage (`session`),
 * or none where it is denied (private modes, sandboxed frames). */
export function viewerStore(scope: 'device' | 'session' = 'device'): Storage | undefined {
  try {
    return (scope === 'session' ? globalThis.sessionStorage : globalThis.localStorage) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Whether the viewer asked not to be tracked: Do Not Track or Global Privacy Control. */
export function optedOut(nav: Partial<Navigator> & { globalPrivacyControl?: boolean } | undefined = globalThis.navigator): boolean {
  const legacy = (globalThis as { doNotTrack?: string }).doNotTrack;
  return nav?.doNotTrack === '1' || nav?.globalPrivacyControl === true || legacy === '1';
}

/** The stored viewer id, created on first use; `undefined` when storage is unavailable. */
export function viewerId(storage: Storage | undefined): string | undefined {
  if (!storage) return undefined;
  try {
    let id = storage.getItem(VIEWER_KEY);
    if (!id) storage.setItem(VIEWER_KEY, (id = randomId()));
    return id;
  } catch {
    return undefined;
  }
}

/** The playback session: kept while the viewer comes back within 30 minutes. */
export function sessionId(now: number): string {
  let storage: Storage | undefined;
  try {
    storage = globalThis.sessionStorage;
  } catch {
    storage = undefined;
  }
  try {
    const stored = JSON.parse(storage?.getItem(SESSION_KEY) ?? 'null') as { id: string; at: number } | null;
    const id = stored && now - stored.at < SESSION_MS ? stored.id : randomId();
    storage?.setItem(SESSION_KEY, JSON.stringify({ id, at: now }));
    return id;
  } catch {
    return randomId();
  }
}

/** True when `viewer` falls in the sampled share `rate` (stable per viewer, so views of one viewer agree). */
export function sampled(rate: number, viewer: string): boolean {
  if (rate >= 1) return true;
  return fnv1a(viewer) / 4294967296 < rate;
}

/** Device, OS and browser from User-Agent Client Hints where present, else the UA string. */
export function deviceProps(): Props {
  if (typeof navigator === 'undefined') return {};
  const hints = (navigator as Navigator & { userAgentData?: { mobile: boolean; platform: string; brands: { brand: string; version: string }[] } }).userAgentData;
  const ua = navigator.userAgent;
  const brand = hints?.brands.find((b) => !/Not.A.Brand/i.test(b.brand) && b.brand !== 'Chromium') ?? hints?.brands.find((b) => b.brand === 'Chromium');
  const browser = brand?.brand ?? (/Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : undefined);
  const os = hints?.platform || (/Android/.test(ua) ? 'Android' : /iPhone|iPad|iPod/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /CrOS/.test(ua) ? 'Chrome OS' : /Linux/.test(ua) ? 'Linux' : undefined);
  const tv = /SmartTV|SMART-TV|Tizen|Web0S|HbbTV|BRAVIA|AFT\w|CrKey/i.test(ua);
  const mobile = hints?.mobile ?? /Mobi|iPhone|Android.+Mobile/.test(ua);
  const tablet = !mobile && /iPad|Tablet|Android/.test(ua);
  return { browser, os, device_type: tv ? 'tv' : mobile ? 'phone' : tablet ? 'tablet' : 'desktop' };
}
