/**
 * What every long-lived JetStream consume() in Chorus passes. After a reconnect nats.js checks its consumer
 * still exists; if that check fails because JetStream is still starting (a restarted or re-elected server
 * answers with a timeout), it waits a jittered `expires` before the next check: 15-45 s at the default 30 s, with
 * nothing consumed meanwhile. A ledger or a Budget agent that stalls that long holds spend back or lets leases
 * lapse before their sales are seen. With 5 s the wait is 2.5-7.5 s and missed heartbeats (2 x expires/2) are
 * noticed after 5 s, for one pull request every 5 s while a stream is idle.
 */
export const RESUMING_CONSUME = { expires: 5_000 } as const;
