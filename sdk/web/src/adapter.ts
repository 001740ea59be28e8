// The contract between the core and a player adapter: the adapter translates one player's own
// events into these calls; the core owns the view, the detection rules and delivery.
import type { Props, Rendition } from './wire';

/** What an adapter reports about its player. */
export interface PlayerReport {
  /** The media element the player renders into (now, or once attached). */
  media(video: HTMLVideoElement): void;
  /** Player facts: `player_name`, `player_version`, `stream_type`… */
  props(props: Props): void;
  /** The player selected a rendition to play. */
  rendition(rendition: Rendition): void;
  /** A player error with the player's own code and fatal flag. */
  error(code: string, message: string | undefined, fatal: boolean): void;
  /** A media segment was requested from this URL (its host names the CDN). */
  segment(url: string): void;
  /** The player's own buffering signal, for players that freeze without `waiting`. */
  buffering(on: boolean): void;
}

/** Live figures the heartbeat samples from the player. */
export interface PlayerSample {
  bandwidth_bps?: number;
  live_latency_ms?: number;
}

/** A player adapter: `html5(video)`, `hlsjs(hls)`, `dashjs(player)`, `shaka(player)`. */
export interface Adapter {
  /** Starts reporting; returns the function that stops it. */
  attach(report: PlayerReport): () => void;
  /** Samples live figures for a heartbeat. */
  sample?(): PlayerSample;
}
