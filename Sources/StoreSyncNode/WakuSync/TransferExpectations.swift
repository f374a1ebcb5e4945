import StoreSyncCore
import StoreSyncLMDB
import Synchronization

/// What this node expects peers to push over `/vac/waku/transfer/1.0.0`: for each store-sync
/// session, the hashes it found this node to lack. A pushed message is taken only if a session
/// with that same peer expects its hash; anything else is dropped and counted.
///
/// While a session runs, messages the peer pushes before this side has found them missing are
/// held, up to a byte budget per peer, and taken once a later round expects them.
public final class TransferExpectations: Sendable {
    /// One session's expectations: what is still to arrive, and what became of what arrived.
    public final class Session: Sendable {
        let peer: String
        /// Where what arrives is stored, and the rules it passes first.
        let store: any MessageArchive
        let admission: MessageAdmission
        let clock: any SyncScheduler
        private let state = Mutex(State())

        struct State {
            var pending: Set<MessageHash> = []
            var counts = StoreCounts()
            /// Claimed and not yet through `take`.
            var taking = 0
            var waiter: CheckedContinuation<Void, Never>?

            var isComplete: Bool { pending.isEmpty && taking == 0 }
        }

        init(peer: String, store: any MessageArchive, admission: MessageAdmission, clock: any SyncScheduler) {
            self.peer = peer
            self.store = store
            self.admission = admission
            self.clock = clock
        }

        /// Stores messages this session claimed, after the admission rules; records each
        /// outcome. Every claimed message comes here once, stored or not.
        func take(_ messages: [WakuMessage]) async throws {
            guard !messages.isEmpty else { return }
            defer { settled(messages.count) }
            let now = clock.now()
            let admitted = messages.filter { message in
                guard admission.refusal(of: message, now: now) == nil else {
                    recordRejected()
                    return false
                }
                return true
            }
            guard !admitted.isEmpty else { return }
            for outcome in try await store.ingest(admitted).outcomes { record(outcome) }
        }

        /// Hashes expected and not arrived yet.
        public var pending: Set<MessageHash> { state.withLock { $0.pending } }
        /// What became of the messages that arrived.
        public var counts: StoreCounts { state.withLock { $0.counts } }

        func add(_ hashes: [MessageHash]) {
            state.withLock { $0.pending.formUnion(hashes) }
        }

        /// Takes `hash` off the pending set, for the caller to hand its message to `take`;
        /// false if it was not expected.
        func claim(_ hash: MessageHash) -> Bool {
            state.withLock { state in
                guard state.pending.remove(hash) != nil else { return false }
                state.taking += 1
                return true
            }
        }

        /// `count` claimed messages went through `take`.
        private func settled(_ count: Int) {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.taking -= count
                guard state.isComplete else { return nil }
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }

        func record(_ outcome: MessageStore.Outcome) {
            state.withLock { $0.counts.count(outcome) }
        }

        func recordRejected() {
            state.withLock { $0.counts.rejected += 1 }
        }

        /// Returns once nothing is pending or being stored, or once the task is cancelled.
        func allArrived() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        guard !state.isComplete, !Task.isCancelled else { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }

        /// Waits until every expected message has arrived or `seconds` have passed on `clock`;
        /// returns the hashes still missing.
        public func waitForArrivals(seconds: Double, clock: any SyncScheduler) async -> [MessageHash] {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.allArrived() }
                group.addTask { try? await clock.sleep(seconds: seconds) }
                await group.next()
                group.cancelAll()
            }
            return Array(pending)
        }
    }

    /// A message held before its session expected it.
    private struct Early {
        var message: WakuMessage
        var size: Int
    }

    private struct PeerState {
        var sessions: [ObjectIdentifier: Session] = [:]
        var early: [MessageHash: Early] = [:]
        var earlyBytes = 0
    }

    private let peers = Mutex<[String: PeerState]>([:])
    let maximumSessionsPerPeer: Int
    let earlyArrivalBytes: Int

    public init(maximumSessionsPerPeer: Int, earlyArrivalBytes: Int) {
        self.maximumSessionsPerPeer = maximumSessionsPerPeer
        self.earlyArrivalBytes = earlyArrivalBytes
    }

    /// Opens a session with `peer` whose messages go to `store` once they pass `admission`;
    /// nil when the peer has its maximum open already.
    public func begin(
        peer: String, store: any MessageArchive, admission: MessageAdmission, clock: any SyncScheduler
    ) -> Session? {
        peers.withLock { peers in
            guard peers[peer, default: PeerState()].sessions.count < maximumSessionsPerPeer else { return nil }
            let session = Session(peer: peer, store: store, admission: admission, clock: clock)
            peers[peer, default: PeerState()].sessions[ObjectIdentifier(session)] = session
            return session
        }
    }

    /// Closes a session: its pending hashes are no longer accepted. Returns how many held
    /// messages of the peer were dropped because no session is left to take them.
    @discardableResult
    public func end(_ session: Session) -> Int {
        peers.withLock { peers in
            guard var state = peers[session.peer] else { return 0 }
            state.sessions[ObjectIdentifier(session)] = nil
            if state.sessions.isEmpty {
                peers[session.peer] = nil
                return state.early.count
            }
            peers[session.peer] = state
            return 0
        }
    }

    /// Adds hashes a session found this side to lack, and stores the held messages among them.
    public func expect(_ hashes: [MessageHash], in session: Session) async throws {
        guard !hashes.isEmpty else { return }
        session.add(hashes)
        let held = peers.withLock { peers -> [(MessageHash, WakuMessage)] in
            guard var state = peers[session.peer], !state.early.isEmpty else { return [] }
            var held: [(MessageHash, WakuMessage)] = []
            for hash in hashes {
                guard let early = state.early.removeValue(forKey: hash) else { continue }
                state.earlyBytes -= early.size
                held.append((hash, early.message))
            }
            peers[session.peer] = state
            return held
        }
        try await session.take(held.filter { session.claim($0.0) }.map(\.1))
    }

    /// What to do with a message `peer` pushed.
    public enum Verdict {
        /// A session expects it: store it and record the outcome there.
        case expected(Session)
        /// Held until a session of the peer expects it.
        case held
        /// No session expects it and none could hold it.
        case unwanted
    }

    /// Decides on a pushed message with its (recomputed) hash and encoded size.
    public func arrived(_ message: WakuMessage, hash: MessageHash, size: Int, from peer: String) -> Verdict {
        peers.withLock { peers -> Verdict in
            guard var state = peers[peer] else { return .unwanted }
            for session in state.sessions.values where session.claim(hash) { return .expected(session) }
            guard state.early[hash] == nil, state.earlyBytes + size <= earlyArrivalBytes else { return .unwanted }
            state.early[hash] = Early(message: message, size: size)
            state.earlyBytes += size
            peers[peer] = state
            return .held
        }
    }
}
