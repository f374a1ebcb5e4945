import NIOCore
import StoreSyncCore

/// Wakes a channel handler on its event loop once a deadline on a node clock has passed: one task
/// per channel sleeps until the nearest deadline, then asks the handler (on its loop) whether it
/// has expired or when to look again. Moving a deadline later costs nothing; moving it sooner
/// restarts the sleep. Belongs to one handler and is used on its event loop only.
final class DeadlineWatcher {
    private let clock: any SyncScheduler
    private var task: Task<Void, Never>?
    /// When the sleeping task wakes next.
    private var wakeAt = Double.infinity
    /// Counts tasks started, so that a replaced one that was already awake stops.
    private var generation = 0

    init(clock: any SyncScheduler) {
        self.clock = clock
    }

    /// Makes sure the watcher wakes by `deadline` (seconds on the clock's `uptime`). At each wake
    /// `check` runs on `loop`: it returns the next deadline to wait for, or nil to stop watching
    /// (expired, or closed).
    func arm(at deadline: Double, loop: any EventLoop, check: @escaping () -> Double?) {
        guard task == nil || deadline < wakeAt else { return }
        task?.cancel()
        generation += 1
        let generation = self.generation
        wakeAt = deadline
        let bound = NIOLoopBound((self, check), eventLoop: loop)
        let clock = self.clock
        task = Task {
            var wait = max(0, deadline - clock.uptime())
            while true {
                do {
                    try await clock.sleep(seconds: wait)
                    let next = try await loop.submit { () -> Double? in
                        let (watcher, check) = bound.value
                        guard watcher.generation == generation, let next = check() else { return nil }
                        watcher.wakeAt = next
                        return max(0, next - watcher.clock.uptime())
                    }.get()
                    guard let next else { return }
                    wait = next
                } catch {
                    return
                }
            }
        }
    }

    /// Stops watching.
    func cancel() {
        task?.cancel()
        task = nil
        wakeAt = .infinity
        generation += 1
    }
}
