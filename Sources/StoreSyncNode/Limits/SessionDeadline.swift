import StoreSyncCore

/// When a client's session must end, whatever its peer sends: every stream of the session is
/// closed then (`PeerError.sessionTooLong`).
public struct SessionDeadline: Sendable, Equatable {
    /// The uptime of the client's clock at which the session is cut off.
    public let uptime: Double
    /// How long the session was allowed in all, in seconds.
    public let seconds: Double

    /// A deadline `seconds` from now on `clock`.
    public init(seconds: Double, from clock: any SyncScheduler) {
        self.uptime = clock.uptime() + seconds
        self.seconds = seconds
    }
}
