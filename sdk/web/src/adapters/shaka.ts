// Shaka Player (≥ 4): renditions from the active variant on `adaptation`/`variantchanged`, errors
// with Shaka's severity (CRITICAL = fatal) and numeric code, its `buffering` event (Shaka freezes
// playback without `waiting`), the CDN from segment responses.
import type { Adapter } from '../adapter';

interface ShakaTrack {
  active: boolean;
  bandwidth: number;
  width: number | null;
  height: number | null;
  frameRate: number | null;
  videoCodec: string | null;
}

/** The part of a `shaka.Player` the adapter uses. */
export interface ShakaLike {
  addEventListener(type: string, handler: (event: any) => void): void;
  removeEventListener(type: string, handler: (event: any) => void): void;
  getMediaElement(): HTMLMediaElement | null;
  getVariantTracks(): ShakaTrack[];
  isLive(): boolean;
  getStats(): { estimatedBandwidth: number; liveLatency: number };
  getNetworkingEngine(): {
    registerResponseFilter(filter: (type: number, response: { uri: string }) => void): void;
    unregisterResponseFilter(filter: (type: number, response: { uri: string }) => void): void;
  } | null;
}

// shaka.net.NetworkingEngine.RequestType.SEGMENT
const SEGMENT = 1;
// shaka.util.Error.Severity.CRITICAL
const CRITICAL = 2;

/** Monitors a Shaka Player. */
export function shaka(player: ShakaLike): Adapter {
  const version = (player.constructor as unknown as { version?: string }).version ?? (globalThis as { shaka?: { Player?: { version?: string } } }).shaka?.Player?.version;
  return {
    attach(report) {
      // Shaka spells its version "v5.2.12"; the others "1.7.4".
      report.props({ player_name: 'shaka', player_version: version?.replace(/^v/, '') });
      const media = () => {
        const element = player.getMediaElement();
        if (element instanceof HTMLVideoElement) report.media(element);
      };
      media();
      const variant = () => {
        const track = player.getVariantTracks().find((t) => t.active);
        if (track?.width && track.height) {
          report.rendition({ bitrate_bps: track.bandwidth, width: track.width, height: track.height, fps: track.frameRate ?? undefined, codec: track.videoCodec ?? undefined });
        }
      };
      const handlers: Record<string, (event: any) => void> = {
        loaded: () => {
          media();
          report.props({ stream_type: player.isLive() ? 'live' : 'vod' });
          variant();
        },
        adaptation: variant,
        variantchanged: variant,
        buffering: (e) => report.buffering(!!e.buffering),
        error: (e) => report.error(String(e.detail?.code), e.detail?.message, e.detail?.severity === CRITICAL),
      };
      for (const [event, handler] of Object.entries(handlers)) player.addEventListener(event, handler);
      const segments = (type: number, response: { uri: string }) => {
        if (type === SEGMENT) report.segment(response.uri);
      };
      const net = player.getNetworkingEngine();
      net?.registerResponseFilter(segments);
      return () => {
        for (const [event, handler] of Object.entries(handlers)) player.removeEventListener(event, handler);
        net?.unregisterResponseFilter(segments);
      };
    },
    sample() {
      const stats = player.getStats();
      return {
        bandwidth_bps: Number.isFinite(stats.estimatedBandwidth) ? Math.round(stats.estimatedBandwidth) : undefined,
        live_latency_ms: player.isLive() && Number.isFinite(stats.liveLatency) ? Math.round(stats.liveLatency * 1000) : undefined,
      };
    },
  };
}
