import StoreSyncCore

/// Work for the store's writer thread.
enum WriteJob: Sendable {
    /// Messages to store, committed together with whatever else has queued up.
    case ingest([WakuMessage], CheckedContinuation<MessageStore.IngestResult, any Error>)
    /// Work that runs alone, between groups.
    case exclusive(@Sendable (MessageStore) -> Void)
}

/// Work for one of the store's reader threads.
typealias ReadJob = @Sendable () -> Void

/// Carries a closure to a store thread. Sound because the caller stays suspended until the
/// closure has returned: what it captures is never used by two threads at once. The closure is
/// dropped before the caller resumes, so it never outlives the call it was lent for.
private final class Handover<Body>: @unchecked Sendable {
    var body: Body?

    init(_ body: Body) {
        self.body = body
    }
}

/// Carries a closure's result back from a store thread, under the same argument.
private struct Returned<Value>: @unchecked Sendable {
    var value: Value
}

extension MessageStore {
    /// The most messages, and the most estimated bytes, one group commit takes in.
    static let groupCommitMessages = 10_000
    static let groupCommitBytes = 64 << 20

    /// Stores messages as `ingest` does, on the store's writer thread, and returns once they are
    /// committed (durably, unless the store was opened with `.noSync`).
    ///
    /// Concurrent callers are committed together: one transaction and one disk flush for all
    /// that queued up while the previous commit ran. Each caller gets the outcomes of its own
    /// messages; a message that cannot be stored fails only itself. If a group fails as a whole
    /// (an LMDB error), each caller's messages are tried alone, so an error reaches only the
    /// callers it belongs to.
    public func ingest(_ messages: [WakuMessage]) async throws -> IngestResult {
        guard !messages.isEmpty else { return IngestResult() }
        return try await withCheckedThrowingContinuation { continuation in
            if !writer.submit(.ingest(messages, continuation)) { continuation.resume(throwing: StoreError.closed) }
        }
    }

    /// Runs `body` on the writer thread, alone: for writes other than ingest (markers, key
    /// indexes, one step of retention). Keep it short; ingest waits for it.
    public func write<T>(_ body: (MessageStore) throws -> T) async throws -> T {
        try await lend(body) { run in
            writer.submit(.exclusive { store in run(store) })
        }
    }

    /// Runs `body` on one of the store's reader threads: for snapshots, queries, counts and
    /// statistics from async code.
    public func read<T>(_ body: (MessageStore) throws -> T) async throws -> T {
        try await lend(body) { run in
            readers.submit { run(self) }
        }
    }

    /// Lends `body` to a store thread through `submit` and waits for its result.
    private func lend<T>(
        _ body: (MessageStore) throws -> T, submit: (@escaping @Sendable (MessageStore) -> Void) -> Bool
    ) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            let handover = Handover(body)
            let returned = try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Returned<T>, any Error>) in
                let run: @Sendable (MessageStore) -> Void = { store in
                    let result = Result { Returned(value: try handover.body!(store)) }
                    handover.body = nil
                    continuation.resume(with: result)
                }
                if !submit(run) {
                    handover.body = nil
                    continuation.resume(throwing: StoreError.closed)
                }
            }
            return returned.value
        }
    }

    /// Jobs waiting for the writer thread now.
    public var queuedWrites: Int { writer.waiting }

    /// Ingest groups the writer thread has committed, and the `ingest` calls they served: their
    /// ratio is how many callers shared each commit.
    public var groupCommitCounts: (groups: Int, calls: Int) {
        (groupCommits.load(ordering: .relaxed), groupedIngests.load(ordering: .relaxed))
    }

    /// Runs what the writer took from its queue: ingests in groups, other work alone, in the
    /// order they were queued.
    func perform(_ jobs: [WriteJob]) {
        var group: [(messages: [WakuMessage], continuation: CheckedContinuation<IngestResult, any Error>)] = []
        var messages = 0
        var bytes = 0
        func flush() {
            commit(group)
            group = []
            messages = 0
            bytes = 0
        }
        for job in jobs {
            switch job {
            case .ingest(let batch, let continuation):
                let size = batch.reduce(0) { $0 + Self.estimatedSize(of: $1) }
                if !group.isEmpty
                    && (messages + batch.count > Self.groupCommitMessages || bytes + size > Self.groupCommitBytes)
                {
                    flush()
                }
                group.append((batch, continuation))
                messages += batch.count
                bytes += size
            case .exclusive(let body):
                flush()
                body(self)
            }
        }
        flush()
    }

    private func commit(
        _ group: [(messages: [WakuMessage], continuation: CheckedContinuation<IngestResult, any Error>)]
    ) {
        guard !group.isEmpty else { return }
        groupCommits.add(1, ordering: .relaxed)
        groupedIngests.add(group.count, ordering: .relaxed)
        if group.count > 1, let result = try? ingest(group.flatMap(\.messages)) {
            var offset = 0
            for (messages, continuation) in group {
                continuation.resume(
                    returning: IngestResult(outcomes: Array(result.outcomes[offset..<offset + messages.count])))
                offset += messages.count
            }
            return
        }
        for (messages, continuation) in group {
            continuation.resume(with: Result { try ingest(messages) })
        }
    }
}
