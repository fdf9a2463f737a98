/**
 * Content pinning for the kernel-cached view (see native-notes/caching.md).
 *
 * The cached view lets the kernel keep file pages between opens (FUSE "no open" mode), so
 * a page cache hit costs no request at all. The kernel drops a file's pages only when a
 * getattr reply changes the file's size; it does not compare times. So for every path
 * this store remembers the content it last rendered (pinned: what reads serve), the content
 * the kernel last read (cached: what its pages hold) and the size it last reported, and
 * picks the size to report:
 * - content the kernel already holds (unchanged since it read it): its exact length, so
 *   the pages stay valid;
 * - any other content: its length plus a slack (`defaults.pinnedSlackBytes`, nudged to
 *   differ from both the cached length and the last reported size), so the kernel drops
 *   its pages and its reads are not cut short. The read returns fewer bytes than that
 *   size, and the kernel sets the size to the exact length.
 * The slack matters because a reader's getattr and its read are two requests: another
 * reader's getattr may pin newer, longer content in between, and the kernel would clamp
 * the read to the size the first one was told (a stat line without its end). Readers
 * therefore always get the content of one rendering, whole, with EOF at its end.
 */
import { defaults } from '../defaults';

interface Pin {
  pinned: Buffer;
  cached?: Buffer;
  reported?: number;
}

/** Per path: the content reads serve and the size getattr reports (module comment). */
export class PinnedContent {
  private readonly pins = new Map<string, Pin>();

  /**
   * Pins freshly rendered content for `path`.
   * @returns the size (bytes) getattr must report.
   */
  pin(path: string, content: Buffer): number {
    let pin = this.pins.get(path);
    if (!pin) {
      pin = { pinned: content };
      this.pins.set(path, pin);
    }
    pin.pinned = content;
    let size = content.length;
    // Unchanged: the kernel's copy serves as both, so an unchanged file costs one buffer,
    // not two. The new rendering is let go at once: young garbage, freed by the next
    // scavenge, where an old buffer let go would wait for a full collection (and its
    // C memory with it: a ps -ef over 8,000 processes renders about 14 MB).
    if (pin.cached?.equals(content)) pin.pinned = pin.cached;
    else {
      size = content.length + defaults.pinnedSlackBytes;
      while (size === pin.cached?.length || size === pin.reported) size++;
    }
    pin.reported = size;
    return size;
  }

  /** The size last reported for `path`, if any (for files whose content comes later). */
  reported(path: string): number | undefined {
    return this.pins.get(path)?.reported;
  }

  /** Content for a read of `path` (and notes that the kernel now caches it). */
  read(path: string): Buffer | undefined {
    const pin = this.pins.get(path);
    if (pin) pin.cached = pin.pinned;
    return pin?.pinned;
  }

  /** Forgets the paths for which `keep` is false (processes that left the table). */
  prune(keep: (path: string) => boolean): void {
    for (const path of this.pins.keys()) if (!keep(path)) this.pins.delete(path);
  }
}
