import StoreSyncNode
import Synchronization

/// A scheduler whose time moves only when told: `advance(by:)` wakes every sleeper whose time
/// has come, in deadline order. For tests and simulations of long schedules.
public final class ManualScheduler: SyncScheduler {
    private struct Sleeper {
        let id: UInt64
        let deadline: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: UInt64
        var nextId: UInt64 = 0
        var sleepers: [Sleeper] = []
    }

    private let state: Mutex<State>

    /// Starts the clock at `start` ns since the epoch.
    public init(start: UInt64) {
        state = Mutex(State(now: start))
    }

    public func now() -> UInt64 {
        state.withLock { $0.now }
    }

    public func uptime() -> Double {
        Double(now()) / 1e9
    }

    /// Tasks suspended in `sleep` now.
    public var sleepers: Int {
        state.withLock { $0.sleepers.count }
    }

    public func sleep(seconds: Double) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextId += 1
            return state.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    let deadline = state.now + UInt64(max(0, seconds) * 1e9)
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward and wakes the sleepers whose deadline has passed.
    public func advance(by seconds: Double) {
        let due = state.withLock { state -> [Sleeper] in
            state.now += UInt64(seconds * 1e9)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
