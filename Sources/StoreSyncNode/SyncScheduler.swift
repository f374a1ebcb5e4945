import Foundation

/// The time source and timer of a node's background work (periodic sync, resume, watermarks):
/// the system clock in production, a manual one in tests, so that hours of schedule run in
/// milliseconds and no test waits on the wall clock.
public protocol SyncScheduler: Sendable {
    /// Nanoseconds since the Unix epoch.
    func now() -> UInt64
    /// Suspends for `seconds`; throws `CancellationError` if the task is cancelled first.
    func sleep(seconds: Double) async throws
}

/// The system clock and `Task.sleep`.
public struct SystemScheduler: SyncScheduler {
    public init() {}

    public func now() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970) * 1e9)
    }

    public func sleep(seconds: Double) async throws {
        try await Task.sleep(for: .nanoseconds(Int64(max(0, seconds) * 1e9)))
    }
}
