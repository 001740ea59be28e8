// The plain media element: everything the core detects, and the element's own errors, which stop
// playback (fatal). Renditions are unknown here (no bitrate), so a bare element reports none.
import type { Adapter } from '../adapter';

const MEDIA_ERRORS = ['', 'MEDIA_ERR_ABORTED', 'MEDIA_ERR_NETWORK', 'MEDIA_ERR_DECODE', 'MEDIA_ERR_SRC_NOT_SUPPORTED'];

/** Monitors a bare `<video>` (a progressive file or the browser's native HLS). */
export function html5(video: HTMLVideoElement): Adapter {
  return {
    attach(report) {
      report.props({ player_name: 'html5' });
      report.media(video);
      const onError = () => {
        const error = video.error;
        if (error) report.error(MEDIA_ERRORS[error.code] || `MEDIA_ERR_${error.code}`, error.message || undefined, true);
      };
      // The media's host names the CDN, as segment hosts do for the players.
      const onLoad = () => video.currentSrc && report.segment(video.currentSrc);
      video.addEventListener('error', onError);
      video.addEventListener('loadstart', onLoad);
      onLoad();
      return () => {
        video.removeEventListener('error', onError);
        video.removeEventListener('loadstart', onLoad);
      };
    },
  };
}
