import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#else
    import Darwin
#endif

/// A queue of jobs served by threads of its own, for work that blocks (LMDB transactions, fsync)
/// and so must stay off Swift's cooperative pool and off event loops.
///
/// With `batched`, a thread takes every job queued when it wakes and hands them to its handler
/// together: the store's writer commits them as one group. Otherwise each thread takes one job at
/// a time. `stop()` lets the threads finish what is queued and end; jobs submitted after it are
/// refused.
final class WorkQueue<Job: Sendable>: @unchecked Sendable {
    private let lock = PlainMutex()
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// Guarded by `lock`.
    private var jobs: [Job?] = []
    private var head = 0
    private var stopping = false
    private let name: String

    init(name: String) {
        self.name = name
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    /// Starts `threads` threads that run `handler` on the jobs they take.
    func start(threads: Int, batched: Bool, handler: @escaping @Sendable ([Job]) -> Void) {
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in
                while let taken = take(all: batched) { handler(taken) }
            }
            thread.name = threads == 1 ? name : "\(name)-\(index)"
            thread.start()
        }
    }

    /// Queues a job; false when the queue has stopped (the job will never run).
    func submit(_ job: Job) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            jobs.append(job)
            pthread_cond_signal(condition)
            return true
        }
    }

    /// Jobs waiting now.
    var waiting: Int {
        lock.withLock { jobs.count - head }
    }

    /// Refuses new jobs; the threads end once the queued ones are done.
    func stop() {
        lock.withLock {
            stopping = true
            pthread_cond_broadcast(condition)
        }
    }

    /// Blocks (on a thread of this queue) until there is work; nil once stopped and drained.
    private func take(all: Bool) -> [Job]? {
        lock.withLock { takeLocked(all: all) }
    }

    private func takeLocked(all: Bool) -> [Job]? {
        while head == jobs.count {
            if stopping { return nil }
            pthread_cond_wait(condition, lock.mutex)
        }
        let end = all ? jobs.count : head + 1
        let taken = jobs[head..<end].compactMap { $0 }
        // Taken jobs leave the queue at once: what they hold goes with them.
        for index in head..<end { jobs[index] = nil }
        head = end
        if head == jobs.count || head >= 1_024 {
            jobs.removeFirst(head)
            head = 0
        }
        return taken
    }
}
