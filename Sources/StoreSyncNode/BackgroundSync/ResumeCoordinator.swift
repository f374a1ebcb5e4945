import Foundation
import Logging
import StoreSyncCore
import StoreSyncLMDB

/// How a node catches up after downtime.
public struct ResumeConfiguration: Sendable {
    /// Seconds of the gap reconciled per slice.
    public var sliceSeconds: Double
    /// Seconds before the last-online watermark where the catch-up starts (the watermark is
    /// written every `watermarkIntervalSeconds`, so the node may have been down that much longer).
    public var marginSeconds: Double
    /// Seconds between watermark writes while the node runs.
    public var watermarkIntervalSeconds: Double
    /// Seconds to wait before retrying a slice no peer could serve; doubled per failure up to
    /// ten times that.
    public var retrySeconds: Double

    /// One-hour slices, 5 minutes of margin, a watermark every minute, retries after 30 s.
    public init(
        sliceSeconds: Double = 3_600, marginSeconds: Double = 300, watermarkIntervalSeconds: Double = 60,
        retrySeconds: Double = 30
    ) {
        self.sliceSeconds = sliceSeconds
        self.marginSeconds = marginSeconds
        self.watermarkIntervalSeconds = watermarkIntervalSeconds
        self.retrySeconds = retrySeconds
    }
}

/// Catches a node up on what it missed while it was down, by reconciliation with its peers over
/// the gap `[last online - margin, now)`, in slices oldest first. The watermark and the progress
/// (the start of the first slice not yet done) live in the store, so a catch-up cut short by a
/// crash goes on from there at the next start; redoing a slice is harmless (reconciliation finds
/// nothing to move), so nothing is lost or stored twice.
public final class ResumeCoordinator: Sendable {
    /// Store markers.
    public static let lastOnlineMarker = "last_online"
    public static let catchUpCursorMarker = "catch_up_cursor"
    public static let catchUpEndMarker = "catch_up_end"

    /// What a catch-up did.
    public struct Report: Sendable, Equatable {
        /// The gap caught up on, `[start, end)` ns.
        public var gap: Range<UInt64>
        /// Slices done in this run (those done before a crash are not counted again).
        public var slices = 0
        public var fetched = 0
        public var sent = 0
        /// Data bytes sent and received over all sessions.
        public var bytesUp = 0
        public var bytesDown = 0
        /// Sessions that ran the reference node's store sync (the peer offers no Negentropy).
        /// Such a peer, if it is a reference node, holds only its last hour: older slices get
        /// from it only what it still holds.
        public var storeSyncSessions = 0
    }

    private let node: StoreNode
    private let peers: [NodeClient]
    private let pubsubTopics: [String]
    private let configuration: ResumeConfiguration
    private let scheduler: any SyncScheduler
    private let logger: Logger
    private var store: MessageStore { node.store }

    public init(
        node: StoreNode, peers: [NodeClient], pubsubTopics: [String],
        configuration: ResumeConfiguration = ResumeConfiguration(), scheduler: any SyncScheduler = SystemScheduler(),
        logger: Logger = Logger(label: "storesync.resume")
    ) {
        self.node = node
        self.peers = peers
        self.pubsubTopics = pubsubTopics
        self.configuration = configuration
        self.scheduler = scheduler
        self.logger = logger
    }

    /// Decides the gap to catch up on and records it in the store, before anything moves the
    /// watermark: from an unfinished catch-up's progress or the last-online watermark (minus the
    /// margin), whichever is older, to now; clamped to what retention keeps. Nil when there is
    /// nothing to do (a store never online before, or no gap).
    public func plan() async throws -> Range<UInt64>? {
        let now = scheduler.now()
        let (cursor, watermark) = try await store.read { store in
            (try store.marker(Self.catchUpCursorMarker), try store.marker(Self.lastOnlineMarker))
        }
        let floor = try await node.archive.retentionFloor(at: now).firstWholeTimestamp
        let margin = UInt64(configuration.marginSeconds * 1e9)
        let fromWatermark = watermark.map { $0 - min($0, margin) }
        guard var start = [cursor, fromWatermark].compactMap({ $0 }).min() else { return nil }
        if start < floor {
            logger.notice(
                "the gap since \(isoDate(start)) reaches past what retention keeps; catching up from \(isoDate(floor)) instead"
            )
            start = floor
        }
        guard start < now else {
            try await setMarkers([Self.catchUpCursorMarker: nil, Self.catchUpEndMarker: nil])
            return nil
        }
        try await setMarkers([Self.catchUpCursorMarker: start, Self.catchUpEndMarker: now])
        return start..<now
    }

    /// Writes the last-online watermark now.
    public func recordWatermark() async throws {
        try await setMarkers([Self.lastOnlineMarker: scheduler.now()])
    }

    private func setMarkers(_ values: [String: UInt64?]) async throws {
        try await store.write { try $0.setMarkers(values) }
    }

    /// Writes the watermark every interval until cancelled, then once more (clean shutdown).
    public func keepWatermark() async {
        while !Task.isCancelled {
            do {
                try await recordWatermark()
            } catch {
                logger.error("cannot record the last-online watermark: \(error)")
            }
            do {
                try await scheduler.sleep(seconds: configuration.watermarkIntervalSeconds)
            } catch {
                break
            }
        }
        do {
            try await recordWatermark()
        } catch {
            logger.error("cannot record the last-online watermark at shutdown: \(error)")
        }
    }

    /// Catches up on `gap` (from `plan()`): each slice, oldest first, is reconciled for every
    /// pubsub topic with every peer; it counts as done once at least one peer served each topic,
    /// and then the progress is saved. A slice no peer could serve is retried after a backoff
    /// until it is, or until the task is cancelled (the progress stays for the next start).
    public func catchUp(_ gap: Range<UInt64>) async throws -> Report {
        var report = Report(gap: gap)
        let slice = max(1, UInt64(configuration.sliceSeconds * 1e9))
        var start =
            try await store.read { try $0.marker(Self.catchUpCursorMarker) }.map { max($0, gap.lowerBound) }
            ?? gap.lowerBound
        let total = (gap.upperBound - gap.lowerBound + slice - 1) / slice
        logger.info(
            "catching up on \(String(format: "%.2f", Double(gap.upperBound - gap.lowerBound) / 3.6e12)) h from \(isoDate(gap.lowerBound)) in \(total) slices of \(configuration.sliceSeconds) s"
        )
        var failures = 0
        while start < gap.upperBound {
            try Task.checkCancellation()
            let end = start + min(slice, gap.upperBound - start)
            let started = ContinuousClock.now
            var fetched = 0
            var sent = 0
            var bytesUp = 0
            var bytesDown = 0
            var storeSyncSessions = 0
            var served = true
            for topic in pubsubTopics {
                var topicServed = false
                var unserved = [MessageHash]()
                for peer in peers {
                    do {
                        let synced = try await node.sync(with: peer, pubsubTopic: topic, window: start..<end)
                        fetched += synced.fetched.stored
                        sent += synced.method == .storeSync ? synced.pushed : synced.sent.stored
                        if synced.method == .storeSync { storeSyncSessions += 1 }
                        bytesUp += synced.bytesUp
                        bytesDown += synced.bytesDown
                        unserved += synced.unserved
                        topicServed = true
                    } catch {
                        logger.warning("catch-up of \(topic) with \(peer.host):\(peer.port) failed: \(error)")
                    }
                }
                let pending = try await node.pending(unserved, pubsubTopic: topic, peers: peers, logger: logger)
                fetched += pending.fetched
                if !pending.left.isEmpty {
                    logger.warning("catch-up of \(topic): \(pending.left.count) messages no peer could serve")
                }
                served = served && topicServed && pending.left.isEmpty
            }
            guard served else {
                failures += 1
                let wait = RetryPolicy(
                    initialDelay: configuration.retrySeconds, maximumDelay: configuration.retrySeconds * 10
                ).backoff(forRetry: failures)
                logger.warning(
                    "no peer served catch-up slice [\(isoDate(start)), \(isoDate(end))); retrying in \(wait) s")
                try await scheduler.sleep(seconds: wait)
                continue
            }
            failures = 0
            try await setMarkers([Self.catchUpCursorMarker: end])
            report.slices += 1
            report.fetched += fetched
            report.sent += sent
            report.bytesUp += bytesUp
            report.bytesDown += bytesDown
            report.storeSyncSessions += storeSyncSessions
            if storeSyncSessions > 0, end < scheduler.now() &- 3_600_000_000_000 {
                logger.notice(
                    "catch-up slice [\(isoDate(start)), \(isoDate(end))) synced by store sync with \(storeSyncSessions) session(s): a reference node keeps only its last hour, so this slice holds only what such a peer still had"
                )
            }
            let elapsed = ContinuousClock.now - started
            let seconds = elapsed.seconds
            let index = (end - gap.lowerBound + slice - 1) / slice
            logger.info(
                "catch-up slice \(index)/\(total) [\(isoDate(start)), \(isoDate(end))) done: \(fetched) fetched, \(sent) sent, \(Int(Double(fetched) / max(seconds, 1e-6))) messages/s"
            )
            node.metrics.catchUpSlice(remainingSeconds: Double(gap.upperBound - end) / 1e9, fetched: fetched)
            start = end
        }
        try await setMarkers([Self.catchUpCursorMarker: nil, Self.catchUpEndMarker: nil])
        logger.info("catch-up complete: \(report.slices) slices, \(report.fetched) fetched, \(report.sent) sent")
        return report
    }

}
