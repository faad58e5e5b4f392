/** A child for the supervisor's test: says it is ready, then exits with code 3 after CHILD_LIFETIME_MS. */
process.send?.({ type: "ready" });
setTimeout(() => process.exit(3), Number(process.env.CHILD_LIFETIME_MS ?? 100));
