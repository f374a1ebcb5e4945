import Foundation

/// Runs blocking work (opening an LMDB environment) on a thread of its own, so that the caller's
/// thread of the cooperative pool is never parked on it.
func onThreadOfItsOwn<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs `body`, throwing `PostgresArchiveError.timedOut` when it takes longer than `seconds`:
/// `body` is cancelled, which gives up its wait for a connection or its query.
func withTimeout<T: Sendable>(
    _ seconds: Double, operation: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw PostgresArchiveError.timedOut(operation: operation, seconds: seconds)
        }
        return value
    }
}
