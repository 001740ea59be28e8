// hls.js: renditions from LEVEL_SWITCHED, errors with hls.js's own `fatal` flag and `details`
// code, the CDN from fragment URLs, live latency from `hls.latency`.
import type { Adapter } from '../adapter';

interface HlsLevel {
  bitrate: number;
  width: number;
  height: number;
  frameRate?: number;
  videoCodec?: string;
}

/** The part of an `Hls` instance the adapter uses (hls.js ≥ 1.0). */
export interface HlsLike {
  on(event: string, handler: (event: string, data: any) => void): void;
  off(event: string, handler: (event: string, data: any) => void): void;
  media: HTMLVideoElement | null;
  levels: HlsLevel[];
  bandwidthEstimate?: number;
  latency?: number;
}

/** Monitors an hls.js player. */
export function hlsjs(hls: HlsLike): Adapter {
  const Hls = hls.constructor as unknown as { version?: string };
  let live = false;
  return {
    attach(report) {
      report.props({ player_name: 'hls.js', player_version: Hls.version });
      if (hls.media) report.media(hls.media);
      const handlers: Record<string, (event: string, data: any) => void> = {
        // Attaching is announced synchronously in attachMedia(), before playback can begin.
        hlsMediaAttaching: (_, data) => report.media(data.media),
        hlsLevelSwitched: (_, data) => {
          const level = hls.levels[data.level];
          if (level) report.rendition({ bitrate_bps: level.bitrate, width: level.width, height: level.height, fps: level.frameRate || undefined, codec: level.videoCodec });
        },
        hlsLevelLoaded: (_, data) => {
          live = !!data.details?.live;
          report.props({ stream_type: live ? 'live' : 'vod' });
        },
        hlsFragLoading: (_, data) => data.frag?.url && report.segment(data.frag.url),
        hlsError: (_, data) => report.error(String(data.details), data.error?.message ?? data.reason, !!data.fatal),
      };
      for (const [event, handler] of Object.entries(handlers)) hls.on(event, handler);
      return () => {
        for (const [event, handler] of Object.entries(handlers)) hls.off(event, handler);
      };
    },
    sample() {
      return {
        bandwidth_bps: hls.bandwidthEstimate && Number.isFinite(hls.bandwidthEstimate) ? Math.round(hls.bandwidthEstimate) : undefined,
        live_latency_ms: live && hls.latency ? Math.round(hls.latency * 1000) : undefined,
      };
    },
  };
}
