// DecideRequests in the protobuf JSON mapping (lowerCamelCase names, enum names, int64 as strings), varied like
// real traffic so caches see many users. The same object works for gRPC (k6/net/grpc) and Connect JSON.

const GENRES = ["pop", "rock", "hip-hop", "jazz", "classical", "electronic", "indie", "true-crime", "news", "comedy"];
const MOODS = ["chill", "energetic", "focus", "happy", "melancholic", "party"];
const COUNTRIES = ["DE", "FR", "GB", "US", "SE", "ES"];
const DEVICES = ["DEVICE_TYPE_PHONE", "DEVICE_TYPE_PHONE", "DEVICE_TYPE_DESKTOP", "DEVICE_TYPE_SMART_SPEAKER"];

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

/**
 * Where in the track the player asks: like a real player, mostly at a break point (the last 15 s of the track,
 * where Timing agrees to a break now); one request in five mid-track, which Chorus answers NOT_A_GOOD_MOMENT with
 * the next good offset and without an auction.
 */
const breakPosition = (durationMs) =>
  Math.random() < 0.8
    ? durationMs - Math.floor(Math.random() * 15000)
    : Math.floor(Math.random() * (durationMs - 30000));

export function decideRequest(vu, iter) {
  return {
    requestId: `k6-${vu}-${iter}-${Date.now()}`,
    placement: {
      placementId: "k6-mid-roll",
      breakKind: "BREAK_KIND_MID_ROLL",
      maxDurationMs: 60000,
      maxAds: pick([1, 2, 3]),
      floorPriceMicros: "1000",
    },
    user: {
      userId: `k6-user-${Math.floor(Math.random() * 20000)}`,
      consent: { personalizedAds: Math.random() < 0.7, measurement: true },
      ageBracket: "AGE_BRACKET_25_34",
      geo: { country: pick(COUNTRIES) },
    },
    device: { type: pick(DEVICES), screenOn: Math.random() < 0.5, foreground: true },
    context: {
      sessionId: `k6-session-${vu}`,
      contentKind: "CONTENT_KIND_MUSIC",
      contentId: `track-${Math.floor(Math.random() * 5000)}`,
      genre: pick(GENRES),
      moodTags: [pick(MOODS)],
      positionMs: breakPosition(200000),
      contentDurationMs: 200000,
      recentSkips: Math.floor(Math.random() * 3),
      sessionLengthMs: Math.floor(Math.random() * 3600000),
    },
  };
}

/** The events a player reports for one played ad of a decision: impression, start, complete. */
export function adEvents(decisionId, creativeId, eventToken) {
  const at = new Date().toISOString();
  return ["AD_EVENT_TYPE_IMPRESSION", "AD_EVENT_TYPE_START", "AD_EVENT_TYPE_COMPLETE"].map((type, i) => ({
    eventId: `${decisionId}-${creativeId}-${i}`,
    decisionId,
    creativeId,
    eventToken,
    type,
    occurredAt: at,
  }));
}
