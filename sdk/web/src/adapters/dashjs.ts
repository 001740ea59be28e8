// dash.js (≥ 4): renditions from the video representation it requests and renders, errors from
// its ERROR event (raised once dash.js gives a resource up: fatal; dash.js has no fatal flag) and
// the element errors it relays, the CDN from fragment requests.
import type { Adapter, PlayerReport } from '../adapter';

interface Representation {
  bandwidth: number;
  width: number;
  height: number;
  frameRate?: number | string;
  codecs?: string | null;
}

/** The part of a dash.js `MediaPlayer` the adapter uses. */
export interface DashLike {
  on(event: string, handler: (event: any) => void): void;
  off(event: string, handler: (event: any) => void): void;
  getVersion(): string;
  getVideoElement(): HTMLVideoElement;
  isDynamic?(): boolean;
  getCurrentRepresentationForType?(type: string): Representation | null;
  getAverageThroughput?(type: string): number;
  getCurrentLiveLatency?(): number;
}

/** Monitors a dash.js player. */
export function dashjs(player: DashLike): Adapter {
  let live = false;
  const media = (report: PlayerReport) => {
    try {
      const video = player.getVideoElement();
      if (video) report.media(video);
    } catch {
      // Not initialized yet: `playbackInitialized` brings it.
    }
  };
  return {
    attach(report) {
      report.props({ player_name: 'dash.js', player_version: player.getVersion() });
      media(report);
      const rendition = (r: Representation | null | undefined) => {
        if (r && r.width > 0) report.rendition({ bitrate_bps: r.bandwidth, width: r.width, height: r.height, fps: frameRate(r.frameRate), codec: r.codecs ?? undefined });
      };
      const handlers: Record<string, (event: any) => void> = {
        // Raised inside initialize() once the element and the source are set: an app's play()
        // right after it is then seen on the element (issue 19), not dated at streamInitialized.
        playbackInitialized: () => media(report),
        streamInitialized: () => {
          media(report);
          live = !!player.isDynamic?.();
          report.props({ stream_type: live ? 'live' : 'vod' });
          rendition(player.getCurrentRepresentationForType?.('video'));
        },
        qualityChangeRequested: (e) => e.mediaType === 'video' && rendition(e.newRepresentation),
        qualityChangeRendered: (e) => e.mediaType === 'video' && rendition(e.newRepresentation),
        fragmentLoadingStarted: (e) => e.request?.url && e.request.mediaType === 'video' && report.segment(e.request.url),
        error: (e) => report.error(String(e.error?.code ?? e.error), e.error?.message ?? e.event?.message, true),
        playbackError: (e) => report.error(`MEDIA_ERR_${e.error?.code ?? ''}`, e.error?.message, true),
      };
      for (const [event, handler] of Object.entries(handlers)) player.on(event, handler);
      return () => {
        for (const [event, handler] of Object.entries(handlers)) player.off(event, handler);
      };
    },
    sample() {
      const kbps = player.getAverageThroughput?.('video');
      const latency = live ? player.getCurrentLiveLatency?.() : undefined;
      return {
        bandwidth_bps: kbps && Number.isFinite(kbps) ? Math.round(kbps * 1000) : undefined,
        live_latency_ms: latency && Number.isFinite(latency) ? Math.round(latency * 1000) : undefined,
      };
    },
  };
}

/** Frame rate from a number or an MPD `frameRate` such as `30000/1001`. */
function frameRate(value: number | string | undefined): number | undefined {
  if (typeof value === 'number') return value > 0 ? value : undefined;
  if (!value) return undefined;
  const [num, den = '1'] = value.split('/');
  const fps = Number(num) / Number(den);
  return Number.isFinite(fps) && fps > 0 ? Math.round(fps * 1000) / 1000 : undefined;
}
