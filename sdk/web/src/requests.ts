// Play requests the page made before the SDK watched their element. Apps call `play()` before a
// player hands its element over (dash.js learns it in `initialize()` and tells at
// `streamInitialized`, ~150 ms later), or call `monitor()` after `play()`. Media events do not
// bubble, but every event passes the document in the capture phase: from the moment this script
// runs, each media element's first request is kept, so a view can be dated from it.
import type { EarlierRequest } from './playback';
import { monotonic, queuedAt } from './clock';

const requests = new WeakMap<EventTarget, number>();

function note(event: Event): void {
  const media = event.target as HTMLMediaElement | null;
  if (!media || typeof media.paused !== 'boolean') return;
  if (event.type === 'pause' || event.type === 'ended') requests.delete(media);
  // An autoplay is requested when its load starts (docs/sdk.md, "Play request").
  else if ((event.type === 'play' || (event.type === 'loadstart' && media.autoplay)) && !requests.has(media)) requests.set(media, queuedAt(event));
}

if (typeof document !== 'undefined') for (const type of ['play', 'loadstart', 'pause', 'ended']) document.addEventListener(type, note, true);

/**
 * The request standing on `media` when monitoring starts: the page's first play (or autoplay load)
 * since the element last paused, if this script saw it; else, for an element already playing,
 * now, marked unobserved. `undefined` when nothing was requested yet.
 */
export function requestBefore(media: HTMLMediaElement): EarlierRequest | undefined {
  const at = requests.get(media);
  requests.delete(media);
  if (media.ended) return undefined;
  if (at !== undefined && (!media.paused || media.autoplay)) return { at, observed: true };
  return media.paused ? undefined : { at: monotonic(), observed: false };
}
