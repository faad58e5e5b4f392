// Types for Node-side users of decide-request.js (the e2e spec sends these very bodies to a live gateway).

/** A DecideRequest in the protobuf JSON mapping, as the k6 scripts send it. */
export function decideRequest(vu: number, iter: number): Record<string, unknown>;

/** Impression, start and complete of one played ad (with the ad's event token), in the protobuf JSON mapping. */
export function adEvents(decisionId: string, creativeId: string, eventToken: string): Record<string, unknown>[];
