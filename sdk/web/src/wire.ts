// The wire format v1 (DESIGN §4.1): one POST carries events of one view.

/** View properties: dimensions such as `content_id`, `cdn`, `player_name`; later values win. */
export type Props = Record<string, string | number | boolean | undefined>;

/** A rendition as players describe it: the `rendition_change` event's fields. */
export interface Rendition {
  bitrate_bps: number;
  width: number;
  height: number;
  fps?: number;
  codec?: string;
}

/** One event as sent: `seq` is per view from 0, `ts` is epoch ms of the device clock. */
export interface WireEvent {
  seq: number;
  ts: number;
  type: string;
  [field: string]: unknown;
}

/** The `view` envelope of a batch. */
export interface WireView {
  id: string;
  viewer_id?: string;
  session_id?: string;
  props: Props;
}

/** A batch of one view's events, before `v`, `key` and `sent_at` are added at send time. */
export interface Batch {
  view: WireView;
  events: WireEvent[];
}

/** The request body for `POST /v1/events`. */
export function body(batch: Batch, key: string, sentAt: number): string {
  return JSON.stringify({ v: 1, key, sent_at: sentAt, view: batch.view, events: batch.events });
}
