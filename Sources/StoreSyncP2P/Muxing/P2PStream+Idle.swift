import NIOCore
import StoreSyncCore

extension P2PStream {
    /// The next varint-prefixed message (nil at the end of the stream), which must come within
    /// `idle` seconds on `clock`: otherwise the stream is reset and `P2PError.timeout` thrown.
    public func readPrefixed(limit: Int, what: String, idle: Double, clock: any SyncScheduler) async throws
        -> ByteBuffer?
    {
        let watchdog = Watchdog(after: idle, clock: clock) { self.reset() }
        defer { watchdog.cancel() }
        do {
            return try await readPrefixed(limit: limit, what: what)
        } catch {
            if watchdog.fired { throw P2PError.timeout("the peer's next \(what)") }
            throw error
        }
    }
}
