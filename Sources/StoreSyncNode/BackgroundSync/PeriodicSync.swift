import Logging
import StoreSyncCore
import Synchronization

/// When and how far back a node syncs on its own.
public struct PeriodicSyncConfiguration: Sendable {
    /// Seconds between syncs.
    public var intervalSeconds: Double
    /// Each interval is stretched or shrunk by up to this fraction at random, so that nodes
    /// started together do not sync in lockstep.
    public var jitter: Double
    /// Seconds of history each sync covers.
    public var rangeSeconds: Double
    /// Seconds before now where the window ends: messages still in flight are not chased.
    public var offsetSeconds: Double
    /// Seconds a peer is left alone after its first failure; doubled per further failure up to
    /// `maximumBackoffSeconds`, reset by a success.
    public var backoffSeconds: Double
    public var maximumBackoffSeconds: Double

    /// Every 5 minutes (±10 %), over `[now - 1 h - 20 s, now - 20 s)`; a failed peer is left
    /// for 5 minutes, then 10, up to an hour.
    public init(
        intervalSeconds: Double = 300, jitter: Double = 0.1, rangeSeconds: Double = 3_600, offsetSeconds: Double = 20,
        backoffSeconds: Double = 300, maximumBackoffSeconds: Double = 3_600
    ) {
        self.intervalSeconds = intervalSeconds
        self.jitter = jitter
        self.rangeSeconds = rangeSeconds
        self.offsetSeconds = offsetSeconds
        self.backoffSeconds = backoffSeconds
        self.maximumBackoffSeconds = maximumBackoffSeconds
    }
}

/// A node's periodic sync: every interval it picks a peer (configured peers first, the one
/// synced least recently; else a random known one; peers that failed recently are backed off)
/// and syncs each of its pubsub topics over the recent window with it, then transfers.
public final class PeriodicSync: Sendable {
    /// What one round did.
    public struct Round: Sendable, Equatable {
        /// The peer synced with (`host:port`), nil when every peer was backed off.
        public var peer: String?
        /// Whether every topic synced.
        public var succeeded: Bool
        /// Messages fetched from and sent to the peer.
        public var fetched = 0
        public var sent = 0
    }

    private struct PeerState {
        var lastAttempt: UInt64 = 0
        var failures = 0
        var backedOffUntil: UInt64 = 0
    }

    private struct State {
        var peers: [String: PeerState] = [:]
        var known: [NodeClient] = []
        var rounds: [Round] = []
        var random: SplitMix64

        mutating func remember(_ round: Round) {
            rounds.append(round)
            if rounds.count > PeriodicSync.roundsKept { rounds.removeFirst(rounds.count - PeriodicSync.roundsKept) }
        }
    }

    private let node: StoreNode
    private let configured: [NodeClient]
    private let pubsubTopics: [String]
    private let configuration: PeriodicSyncConfiguration
    private let scheduler: any SyncScheduler
    private let logger: Logger
    private let state: Mutex<State>

    public init(
        node: StoreNode, peers: [NodeClient], pubsubTopics: [String],
        configuration: PeriodicSyncConfiguration = PeriodicSyncConfiguration(),
        scheduler: any SyncScheduler = SystemScheduler(), logger: Logger = Logger(label: "storesync.sync")
    ) {
        self.node = node
        self.configured = peers
        self.pubsubTopics = pubsubTopics
        self.configuration = configuration
        self.scheduler = scheduler
        self.logger = logger
        self.state = Mutex(State(random: SplitMix64(seed: scheduler.now() ^ UInt64(truncatingIfNeeded: node.port))))
    }

    /// Adds a peer learned at run time; it is picked when no configured peer is available.
    public func addKnownPeer(_ peer: NodeClient) {
        state.withLock { state in
            let key = Self.key(peer)
            guard !state.known.contains(where: { Self.key($0) == key }) else { return }
            state.known.append(peer)
        }
    }

    /// Rounds remembered; older ones are forgotten.
    public static let roundsKept = 1_000

    /// The most recent rounds (at most `roundsKept`), oldest first.
    public var rounds: [Round] { state.withLock { $0.rounds } }

    /// Syncs every interval (with jitter) until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            let factor = state.withLock { state -> Double in
                let unit = Double(state.random.next() >> 11) / Double(1 << 53)
                return 1 + configuration.jitter * (2 * unit - 1)
            }
            do {
                try await scheduler.sleep(seconds: configuration.intervalSeconds * factor)
            } catch {
                return
            }
            await round()
        }
    }

    /// One round: picks a peer and syncs every topic over the window ending `offset` before now.
    @discardableResult
    public func round() async -> Round {
        let now = scheduler.now()
        guard let peer = pick(now: now) else {
            let round = Round(peer: nil, succeeded: false)
            state.withLock { $0.remember(round) }
            logger.info("periodic sync: every peer is backed off; next try at the next interval")
            return round
        }
        let end = now - min(now, UInt64(configuration.offsetSeconds * 1e9))
        let window = (end - min(end, UInt64(configuration.rangeSeconds * 1e9)))..<end
        var round = Round(peer: Self.key(peer), succeeded: true)
        for topic in pubsubTopics {
            do {
                let report = try await node.sync(with: peer, pubsubTopic: topic, window: window)
                round.fetched += report.fetched.stored
                round.sent += report.sent.stored
                if report.missing > 0 {
                    // The keys stay missing: the next round, with another peer, finds them again.
                    round.succeeded = false
                    logger.warning(
                        "periodic sync of \(topic) with \(Self.key(peer)): \(report.missing) messages not served")
                }
            } catch {
                round.succeeded = false
                logger.warning("periodic sync of \(topic) with \(Self.key(peer)) failed: \(error)")
            }
        }
        let finished = round
        state.withLock { state in
            var peerState = state.peers[Self.key(peer), default: PeerState()]
            peerState.lastAttempt = now
            if finished.succeeded {
                peerState.failures = 0
                peerState.backedOffUntil = 0
            } else {
                peerState.failures += 1
                let backoff = RetryPolicy(
                    initialDelay: configuration.backoffSeconds, maximumDelay: configuration.maximumBackoffSeconds
                ).backoff(forRetry: peerState.failures)
                peerState.backedOffUntil = now + UInt64(backoff * 1e9)
            }
            state.peers[Self.key(peer)] = peerState
            state.remember(finished)
        }
        if finished.succeeded && (finished.fetched > 0 || finished.sent > 0) {
            logger.info("periodic sync with \(Self.key(peer)): \(finished.fetched) fetched, \(finished.sent) sent")
        }
        return finished
    }

    /// Configured peers first (the least recently tried among those not backed off), else a
    /// random known peer not backed off.
    private func pick(now: UInt64) -> NodeClient? {
        state.withLock { state in
            func available(_ peer: NodeClient) -> Bool {
                state.peers[Self.key(peer), default: PeerState()].backedOffUntil <= now
            }
            let candidates = configured.filter(available)
            if let peer = candidates.min(by: {
                state.peers[Self.key($0), default: PeerState()].lastAttempt
                    < state.peers[Self.key($1), default: PeerState()].lastAttempt
            }) {
                return peer
            }
            let known = state.known.filter(available)
            guard !known.isEmpty else { return nil }
            return known[Int(state.random.next() % UInt64(known.count))]
        }
    }

    static func key(_ peer: NodeClient) -> String { "\(peer.host):\(peer.port)" }
}
