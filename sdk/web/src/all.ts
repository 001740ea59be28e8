// Everything, for the script-tag build (`window.openqoe`) served at `/sdk/openqoe.js`.
export * from './index';
export { hlsjs } from './adapters/hlsjs';
export { dashjs } from './adapters/dashjs';
export { shaka } from './adapters/shaka';
