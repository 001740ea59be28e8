// Which rendition the viewer is watching. Players announce a switch when they start *loading* a
// rendition, seconds before its frames are shown, and sometimes abandon it; the element's picture
// size changes when they *are* shown. A `rendition_change` is therefore reported when the picture
// changes to a rendition the player selected (or at once, when the player switches between
// renditions of the same size), so time-weighted bitrate and switch counts follow the screen.
import type { Rendition } from './wire';

const REMEMBERED = 8;

/** Pairs the player's rendition selections with the picture sizes the element presents. */
export class RenditionTracker {
  private selected: Rendition[] = [];
  private shown: Rendition | null = null;
  private picture: { width: number; height: number } | null = null;

  constructor(private readonly report: (rendition: Rendition) => void) {}

  /** The player selected `rendition` (hls.js LEVEL_SWITCHED, dash.js quality change, Shaka adaptation). */
  select(rendition: Rendition): void {
    this.selected = [rendition, ...this.selected.filter((r) => !same(r, rendition))].slice(0, REMEMBERED);
    if (this.picture && fits(rendition, this.picture)) this.show(rendition);
  }

  /** The element now presents pictures of this size (`resize`). */
  pictureSize(width: number, height: number): void {
    if (width <= 0 || height <= 0) return;
    this.picture = { width, height };
    const match = this.selected.find((r) => fits(r, this.picture!));
    if (match) this.show(match);
    else if (this.selected.length > 0 && (!this.shown || !fits(this.shown, this.picture))) {
      // The manifest's sizes do not match the decoded ones: trust the latest selection.
      this.show(this.selected[0]);
    }
  }

  private show(rendition: Rendition): void {
    if (this.shown && same(this.shown, rendition)) return;
    this.shown = rendition;
    this.report(rendition);
  }
}

function fits(r: Rendition, picture: { width: number; height: number }): boolean {
  return r.width === picture.width && r.height === picture.height;
}

function same(a: Rendition, b: Rendition): boolean {
  return a.bitrate_bps === b.bitrate_bps && a.width === b.width && a.height === b.height;
}
