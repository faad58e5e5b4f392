// Query strings of GET /vast/v4 (gateway/vast/vast-request.ts names the parameters), varied like decide-request.js,
// and what a player does with the answer: find each ad's tracking URLs and fill in the VAST macros.

const GENRES = ["pop", "rock", "hip-hop", "jazz", "classical", "electronic", "indie", "news", "comedy"];
const COUNTRIES = ["DE", "FR", "GB", "US", "SE", "ES"];
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

export function vastQuery(vu, iter) {
  const duration = 200;
  // Mostly at a break point (the track's last 15 s), as decide-request.js explains.
  const position = Math.random() < 0.8 ? duration - Math.random() * 15 : Math.random() * (duration - 30);
  return [
    `request_id=k6-vast-${vu}-${iter}-${Date.now()}`,
    "placement=k6-vast",
    "break=mid",
    "max_duration=60",
    `max_ads=${pick([1, 2, 3])}`,
    "formats=audio",
    `user=k6-user-${Math.floor(Math.random() * 20000)}`,
    "consent=personalized,measurement",
    `country=${pick(COUNTRIES)}`,
    "device=phone",
    `session=k6-session-${vu}`,
    "content_kind=music",
    `content_id=track-${Math.floor(Math.random() * 5000)}`,
    `genre=${pick(GENRES)}`,
    `position=${position.toFixed(3)}`,
    `content_duration=${duration}`,
  ].join("&");
}

/** Chorus's own tracking URLs of each <Ad> (the first of each kind is the ad server's; others are third parties'). */
export function adTracking(xml) {
  return xml
    .split("<Ad ")
    .slice(1)
    .map((ad) => {
      const first = (re) => {
        const m = re.exec(ad);
        return m ? m[1] : undefined;
      };
      const events = {};
      for (const event of ["start", "firstQuartile", "midpoint", "thirdQuartile", "complete"])
        events[event] = first(new RegExp(`<Tracking event="${event}"><!\\[CDATA\\[(.*?)\\]\\]>`));
      return { impression: first(/<Impression id="chorus"><!\[CDATA\[(.*?)\]\]>/), events };
    });
}

/** The player's side of VAST 4.2 §6.1: macros replaced, whether written [LIKE_THIS] or percent-encoded. */
export function fillMacros(url, playheadSeconds) {
  const values = {
    TIMESTAMP: encodeURIComponent(new Date().toISOString()),
    CACHEBUSTING: String(Math.floor(Math.random() * 1e8)).padStart(8, "0"),
    CONTENTPLAYHEAD: encodeURIComponent(playhead(playheadSeconds || 0)),
  };
  return url.replace(/(?:\[|%5B)([A-Z]+)(?:\]|%5D)/g, (m, name) => (name in values ? values[name] : m));
}

function playhead(seconds) {
  const pad = (n, w) => String(Math.floor(n)).padStart(w || 2, "0");
  return `${pad(seconds / 3600)}:${pad((seconds / 60) % 60)}:${pad(seconds % 60)}.${pad((seconds * 1000) % 1000, 3)}`;
}
