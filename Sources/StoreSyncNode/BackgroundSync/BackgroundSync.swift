import Logging
import StoreSyncCore
import StoreSyncLMDB

/// A node's work with its peers, as an embedding application runs it beside `StoreNode.serve()`:
/// the last-online watermark kept every interval and at shutdown, periodic sync, and at start
/// either a sync of everything each peer holds (until one has completed) or a catch-up on the gap
/// since the node was last online. Runs until its task is cancelled.
///
/// The sync of everything is owed from the node's first start until it has been served, for
/// every pubsub topic, by some peer: a node whose first runs reached no peer (or had none
/// configured) still does it at a later start, and it then covers any gap as well.
public struct BackgroundSync: Sendable {
    /// Set from a first start until the sync of everything has been served for every topic.
    public static let initialSyncMarker = "initial_sync_pending"

    private let node: StoreNode
    private let peers: [NodeClient]
    private let pubsubTopics: [String]
    private let resume: ResumeCoordinator
    private let periodic: PeriodicSync
    private let logger: Logger

    public init(
        node: StoreNode, peers: [NodeClient], pubsubTopics: [String], resume: ResumeCoordinator,
        periodic: PeriodicSync, logger: Logger = Logger(label: "storesync.background")
    ) {
        self.node = node
        self.peers = peers
        self.pubsubTopics = pubsubTopics
        self.resume = resume
        self.periodic = periodic
        self.logger = logger
    }

    /// What the start-up work will be.
    public enum Start: Equatable, Sendable {
        /// Sync everything with each peer.
        case initialSync
        /// Catch up on this gap (ns).
        case catchUp(Range<UInt64>)
        /// Nothing owed.
        case none
    }

    /// Decides the start-up work and records it in the store before the watermark moves, so a
    /// crash cannot lose it.
    public func plan() async throws -> Start {
        let store = node.store
        let (watermark, pending) = try await store.read { store in
            (try store.marker(ResumeCoordinator.lastOnlineMarker), try store.marker(Self.initialSyncMarker))
        }
        if watermark == nil && pending == nil {
            try await store.write { try $0.setMarkers([Self.initialSyncMarker: 1]) }
        }
        let gap = try await resume.plan()
        if watermark == nil || pending != nil { return .initialSync }
        return gap.map { .catchUp($0) } ?? .none
    }

    /// Runs the start-up work, the watermark and periodic sync until cancelled.
    public func run() async {
        let start: Start
        do {
            start = try await plan()
        } catch {
            logger.error("cannot plan the start-up sync: \(error)")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await resume.keepWatermark() }
            group.addTask { await periodic.run() }
            group.addTask {
                switch start {
                case .initialSync:
                    _ = await initialSync()
                case .catchUp(let gap):
                    do {
                        _ = try await resume.catchUp(gap)
                    } catch is CancellationError {
                        logger.info("catch-up stopped; it goes on from its last slice at the next start")
                    } catch {
                        logger.error("catch-up failed: \(error); it goes on at the next start")
                    }
                case .none:
                    break
                }
            }
            await group.waitForAll()
        }
    }

    /// Syncs everything each peer holds, one session per peer and topic. Done once every topic
    /// was served by some peer: the marker goes, and with it any catch-up recorded, which the
    /// sync of everything covered. Returns whether it is done.
    @discardableResult
    public func initialSync() async -> Bool {
        var served = Set<String>()
        for peer in peers {
            for topic in pubsubTopics {
                if Task.isCancelled { return false }
                do {
                    let report = try await node.sync(with: peer, pubsubTopic: topic)
                    let pending = try await node.pending(
                        report.unserved, pubsubTopic: topic, peers: peers, logger: logger)
                    if pending.left.isEmpty { served.insert(topic) }
                    logger.info(
                        "synced \(topic) with \(peer.host):\(peer.port): \(report.fetched.stored) fetched, \(report.sent.stored) sent"
                    )
                } catch {
                    logger.warning("sync of \(topic) with \(peer.host):\(peer.port) failed: \(error)")
                }
            }
        }
        guard served == Set(pubsubTopics) else {
            logger.notice("the initial sync is not complete; it is tried again at the next start")
            return false
        }
        do {
            try await node.store.write { store in
                try store.setMarkers([
                    Self.initialSyncMarker: nil, ResumeCoordinator.catchUpCursorMarker: nil,
                    ResumeCoordinator.catchUpEndMarker: nil,
                ])
            }
            return true
        } catch {
            logger.error("cannot record that the initial sync is done: \(error)")
            return false
        }
    }
}
