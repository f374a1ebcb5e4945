import StoreSyncCore
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
    private let start: UInt64

    /// Starts the clock at `start` ns since the epoch.
    public init(start: UInt64) {
        state = Mutex(State(now: start))
        self.start = start
    }

    public func now() -> UInt64 {
        state.withLock { $0.now }
    }

    /// Seconds since the clock's start (small numbers, so that nanoseconds are not lost).
    public func uptime() -> Double {
        Double(now() - start) / 1e9
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
                    // Rounded up: a sleeper woken at its deadline has slept at least what it asked.
                    let deadline = state.now + UInt64((max(0, seconds) * 1e9).rounded(.up))
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

    /// Seconds until the earliest sleeper's deadline, nil when nobody sleeps.
    public var nextDeadline: Double? {
        state.withLock { state in
            state.sleepers.map(\.deadline).min().map { Double($0 - min($0, state.now)) / 1e9 }
        }
    }

    /// Moves the clock to the earliest sleeper's deadline if it is at most `limit` seconds away,
    /// waking that sleeper (and any due with it); returns the seconds moved, nil if none was due.
    @discardableResult
    public func advanceToNextDeadline(within limit: Double) -> Double? {
        guard let next = nextDeadline, next <= limit else { return nil }
        advance(by: next)
        return next
    }

    /// Moves the clock forward and wakes the sleepers whose deadline has passed.
    public func advance(by seconds: Double) {
        let due = state.withLock { state -> [Sleeper] in
            state.now += UInt64((max(0, seconds) * 1e9).rounded(.up))
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}

/// Moves a manual clock from one sleeper's deadline to the next, in the background, while a test
/// waits for what the clock drives (a timeout, a refill). Steps longer than `stepsUpTo` seconds
/// are not taken, so that long timers (those of other streams) are never reached. Between steps
/// it yields, so that what a step woke can act before the next.
public final class ClockMover: Sendable {
    private let task: Task<Double, Never>

    public init(_ clock: ManualScheduler, stepsUpTo limit: Double) {
        task = Task {
            var advanced = 0.0
            while !Task.isCancelled {
                if let step = clock.advanceToNextDeadline(within: limit) { advanced += step }
                await Task.yield()
            }
            return advanced
        }
    }

    /// Stops moving the clock; returns the seconds it moved in all.
    public func stop() async -> Double {
        task.cancel()
        return await task.value
    }
}
