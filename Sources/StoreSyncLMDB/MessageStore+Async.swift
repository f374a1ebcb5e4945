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

/// Carries a closure, or its result, to a store thread and back. Sound because the caller stays
/// suspended until the closure has returned: what it captures is never used by two threads at
/// once.
private struct Handover<Value>: @unchecked Sendable {
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
        try await withoutActuallyEscaping(body) { body in
            let handover = Handover(value: body)
            let result = try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Handover<T>, any Error>) in
                let job = WriteJob.exclusive { store in
                    continuation.resume(with: Result { Handover(value: try handover.value.self(store)) })
                }
                if !writer.submit(job) { continuation.resume(throwing: StoreError.closed) }
            }
            return result.value
        }
    }

    /// Runs `body` on one of the store's reader threads: for snapshots, queries, counts and
    /// statistics from async code.
    public func read<T>(_ body: (MessageStore) throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            let handover = Handover(value: body)
            let result = try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Handover<T>, any Error>) in
                let job: ReadJob = {
                    continuation.resume(with: Result { Handover(value: try handover.value.self(self)) })
                }
                if !readers.submit(job) { continuation.resume(throwing: StoreError.closed) }
            }
            return result.value
        }
    }

    /// Jobs waiting for the writer thread now.
    public var queuedWrites: Int { writer.waiting }

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
        if group.count > 1, let result = try? ingest(group.flatMap(\.messages)) {
            var offset = 0
            for (messages, continuation) in group {
                continuation.resume(returning: IngestResult(outcomes: Array(result.outcomes[offset..<offset + messages.count])))
                offset += messages.count
            }
            return
        }
        for (messages, continuation) in group {
            continuation.resume(with: Result { try ingest(messages) })
        }
    }
}
