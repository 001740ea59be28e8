// openqoe web SDK: QoE beacons from web players, per the wire format v1 (DESIGN §4.1).
export { monitor, VERSION } from './monitor';
export type { MonitorHandle, MonitorOptions } from './monitor';
export type { Adapter, PlayerReport, PlayerSample } from './adapter';
export type { Props, Rendition } from './wire';
export { html5 } from './adapters/html5';
