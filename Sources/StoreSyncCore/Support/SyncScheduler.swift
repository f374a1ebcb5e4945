import Dispatch

/// The clock of a node: the time source and timer of its background work (periodic sync, resume,
/// watermarks) and of its limits (rate and bandwidth buckets, stream timeouts). The system clock
/// in production, a manual one in tests, so that hours of schedule run in milliseconds and no
/// test depends on how fast the machine runs.
public protocol SyncScheduler: Sendable {
    /// Nanoseconds since the Unix epoch.
    func now() -> UInt64
    /// Seconds on a clock that never goes back, from any origin: what rate, bandwidth and
    /// timeout budgets are measured on.
    func uptime() -> Double
    /// Suspends for `seconds`; throws `CancellationError` if the task is cancelled first.
    func sleep(seconds: Double) async throws
}

/// The system clock and `Task.sleep`.
public struct SystemScheduler: SyncScheduler {
    public init() {}

    public func now() -> UInt64 {
        WallClock.nanoseconds()
    }

    public func uptime() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    public func sleep(seconds: Double) async throws {
        try await Task.sleep(for: .nanoseconds(Int64(min(max(0, seconds) * 1e9, 9e18))))
    }
}
