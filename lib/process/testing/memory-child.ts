import { signalReady } from "../child-lifecycle.ts";

/** A child for the memory query's test: holds ~32 MB of live objects (and made as much garbage), then says ready. */
const live = Array.from({ length: 400_000 }, (_, i) => ({ i, text: `live-${i}` }));
const garbage = Array.from({ length: 400_000 }, (_, i) => ({ i, text: `garbage-${i}` }));
signalReady({ held: live.length, dropped: garbage.length });
setInterval(() => live.length, 60_000);
