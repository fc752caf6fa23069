/**
 * Whole milliseconds since the process started, for the timestamps every session and stream
 * keeps: a small integer V8 stores in the object's own field, where each Date.now() value stored
 * is a boxed number of 16 bytes (past 24.8 days of uptime these are boxed too, and still right).
 * Never for anything shown to users or compared across processes: that is Date.now().
 */
export const clock = (): number => Math.floor(performance.now())
