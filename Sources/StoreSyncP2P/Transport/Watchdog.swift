import StoreSyncCore
import Synchronization

/// Runs an action (closing a connection, resetting a stream) when a step has not finished within
/// its bound on the node's clock, unless cancelled first.
public final class Watchdog: Sendable {
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)
    private final class Flag: Sendable {
        let value = Mutex(false)
    }
    private let didFire = Flag()

    public init(after seconds: Double, clock: any SyncScheduler, action: @escaping @Sendable () -> Void) {
        let task = Task { [didFire] in
            do {
                try await clock.sleep(seconds: seconds)
            } catch {
                return
            }
            didFire.value.withLock { $0 = true }
            action()
        }
        self.task.withLock { $0 = task }
    }

    /// Whether the action ran.
    public var fired: Bool { didFire.value.withLock { $0 } }

    public func cancel() {
        task.withLock { $0?.cancel() }
    }
}
