import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncP2P
import Synchronization

/// Serves `/vac/waku/transfer/1.0.0` streams: reads varint-prefixed `{pubsub topic,
/// WakuMessage}` until the end of the stream, recomputes each message's hash, and stores it only
/// if a store-sync session with that peer found this side to lack that hash (SPEC.md 9.4).
/// Everything else is dropped and counted; a stream that carries too much of it is reset.
public final class TransferReceiver: Sendable {
    /// What became of pushed messages outside any session's counts.
    public struct Counts: Sendable, Equatable {
        /// Messages no session expected, dropped.
        public var unwanted = 0
        /// Payloads that were not a transfer message, or a message that cannot be stored.
        public var malformed = 0
        /// Streams reset for carrying too many unwanted messages.
        public var streamsReset = 0

        public init(unwanted: Int = 0, malformed: Int = 0, streamsReset: Int = 0) {
            self.unwanted = unwanted
            self.malformed = malformed
            self.streamsReset = streamsReset
        }
    }

    public let expectations: TransferExpectations
    let settings: StoreSyncSettings
    let idleTimeout: Double
    let maximumDuration: Double
    let clock: any SyncScheduler
    private let counts = Mutex(Counts())
    /// Called with each stream before it is read, where a node applies its rate and bandwidth
    /// limits: false refuses the stream (the callee resets it).
    let prepare: @Sendable (P2PStream) -> Bool
    /// Told of each message dropped, and of each stream reset: where a node counts them.
    let onDrop: @Sendable (Drop) -> Void

    /// Why a pushed message was dropped, or a stream reset.
    public enum Drop: String, Sendable {
        case unwanted
        case malformed
        case streamReset = "stream_reset"
    }

    /// Messages stored at once in flight per stream: the store commits them together.
    static let ingestsInFlight = 64

    public init(
        settings: StoreSyncSettings, idleTimeout: Double, maximumDuration: Double, clock: any SyncScheduler,
        prepare: @escaping @Sendable (P2PStream) -> Bool = { _ in true },
        dropped: @escaping @Sendable (Drop) -> Void = { _ in }
    ) {
        self.onDrop = dropped
        self.settings = settings
        self.idleTimeout = idleTimeout
        self.maximumDuration = maximumDuration
        self.clock = clock
        self.prepare = prepare
        self.expectations = TransferExpectations(
            maximumSessionsPerPeer: settings.maximumSessionsPerPeer, earlyArrivalBytes: settings.earlyArrivalBytes)
    }

    /// What was dropped so far.
    public var dropped: Counts { counts.withLock { $0 } }

    /// Closes a session: messages held for it that it never expected count as unwanted.
    public func end(_ session: TransferExpectations.Session) {
        let dropped = expectations.end(session)
        if dropped > 0 { counts.withLock { $0.unwanted += dropped } }
        for _ in 0..<dropped { onDrop(.unwanted) }
    }

    /// Serves the transfer protocol on `host`.
    public func install(on host: P2PHost) {
        host.handle(StoreSyncTransfer.protocolID) { [weak self] stream in
            guard let self else { return }
            try await self.receive(stream)
        }
    }

    /// Reads one peer's transfer stream to its end.
    func receive(_ stream: P2PStream) async throws {
        guard prepare(stream) else { return }
        let peer = stream.connection.remotePeer.description
        let lifetime = Watchdog(after: maximumDuration, clock: clock) { stream.reset() }
        defer {
            lifetime.cancel()
            stream.close()
        }
        let hasher = SHA256Hasher()
        var unwanted = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            while let payload = try await next(stream) {
                guard let transfer = try? StoreSyncTransfer(decoding: Array(payload.readableBytesView)) else {
                    counts.withLock { $0.malformed += 1 }
                    onDrop(.malformed)
                    unwanted += 1
                    if unwanted > settings.unwantedPerStream { return reset(stream) }
                    continue
                }
                let message = transfer.message
                switch expectations.arrived(
                    message, hash: message.hash(using: hasher), size: payload.readableBytes, from: peer)
                {
                case .expected(let session):
                    if inFlight >= Self.ingestsInFlight {
                        try await group.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask { try await session.take([message]) }
                case .held:
                    continue
                case .unwanted:
                    counts.withLock { $0.unwanted += 1 }
                    onDrop(.unwanted)
                    unwanted += 1
                    if unwanted > settings.unwantedPerStream { return reset(stream) }
                }
            }
            try await group.waitForAll()
        }
    }

    private func reset(_ stream: P2PStream) {
        counts.withLock { $0.streamsReset += 1 }
        onDrop(.streamReset)
        stream.reset()
    }

    /// The next payload, nil at the end of the stream; one that does not come within the idle
    /// timeout ends the stream.
    private func next(_ stream: P2PStream) async throws -> ByteBuffer? {
        do {
            return try await stream.readPrefixed(
                limit: StoreSyncTransfer.maximumSize, what: "transfer message", idle: idleTimeout, clock: clock)
        } catch P2PError.timeout {
            return nil
        }
    }
}
