import CoreMetrics
import StoreSyncLMDB
import Synchronization

/// What a node reports to its metrics backend: syncs, bytes, transfers, requests, query latency,
/// and (on `refresh`) what its store holds. Made through any swift-metrics factory, so an
/// embedding application can send them where it likes; `MetricsEndpoint` exports them for
/// Prometheus. Names follow Prometheus conventions (`_total` counters, base units).
public final class NodeMetrics: Sendable {
    /// The side of a sync session.
    public enum Role: String, Sendable {
        case initiator
        case responder
    }

    private let factory: any MetricsFactory
    /// Retention deletions already exported, to turn the store's totals into counter increments.
    private let exportedDeletions = Mutex(RetentionReport())

    /// Creates the metrics of a node on `factory` (by default the process's bootstrapped one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// Metrics that go nowhere: for nodes embedded without a backend.
    public static let disabled = NodeMetrics(factory: NOOPMetricsHandler.instance)

    /// Buckets of the value histograms, by metric name, for backends that need them up front.
    public static let histogramBuckets: [String: [Double]] = [
        "storesync_sync_rounds": [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50],
        "storesync_sync_differences": [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000],
    ]

    /// Buckets of the query latency histogram.
    public static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .seconds(1),
    ]

    private func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        guard amount > 0 else { return }
        Counter(label: label, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    private func gauge(_ label: String, _ value: Double, _ dimensions: [(String, String)] = []) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }

    /// A sync session ended: `outcome` is `ok`, `error` or `timeout`; rounds and differences
    /// (have plus need) when it got that far.
    public func syncSession(role: Role, outcome: String, rounds: Int?, differences: Int?) {
        count("storesync_sync_sessions_total", [("role", role.rawValue), ("outcome", outcome)])
        if let rounds {
            Recorder(label: "storesync_sync_rounds", dimensions: [("role", role.rawValue)], factory: factory)
                .record(rounds)
        }
        if let differences {
            Recorder(label: "storesync_sync_differences", factory: factory).record(differences)
        }
    }

    /// Data bytes received and sent on a stream of `streamProtocol`.
    public func bytes(_ streamProtocol: StreamProtocol, received: Int, sent: Int) {
        count("storesync_bytes_total", [("protocol", streamProtocol.name), ("direction", "in")], by: received)
        count("storesync_bytes_total", [("protocol", streamProtocol.name), ("direction", "out")], by: sent)
    }

    /// Messages stored from peers (fetched, offered or pushed) and sent to peers.
    public func messagesTransferred(received: Int, sent: Int) {
        count("storesync_messages_transferred_total", [("direction", "in")], by: received)
        count("storesync_messages_transferred_total", [("direction", "out")], by: sent)
    }

    /// Messages refused on transfer: not hashing to their key, or not belonging where sent.
    public func transfersRejected(_ amount: Int) {
        count("storesync_transfers_rejected_total", by: amount)
    }

    /// A message pushed by store sync and dropped (`unwanted`: no session of the peer found it
    /// missing; `malformed`), or a transfer stream reset for carrying too many of them.
    public func transfersDropped(_ reason: String) {
        count("storesync_transfers_dropped_total", [("reason", reason)])
    }

    /// A request answered.
    public func requestServed(_ streamProtocol: StreamProtocol) {
        count("storesync_requests_served_total", [("protocol", streamProtocol.name)])
    }

    /// A request or stream refused with a status code (429 when rate limited).
    public func requestRejected(_ streamProtocol: StreamProtocol, code: StatusCode) {
        count("storesync_requests_rejected_total", [("protocol", streamProtocol.name), ("code", code.description)])
    }

    /// A slice of a catch-up after downtime finished: messages it fetched, and the seconds of
    /// the gap still to go.
    public func catchUpSlice(remainingSeconds: Double, fetched: Int) {
        count("storesync_catch_up_slices_total")
        count("storesync_catch_up_messages_total", by: fetched)
        gauge("storesync_catch_up_remaining_seconds", remainingSeconds)
    }

    /// The time taken to answer one store query.
    public func queryLatency(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Timer(label: "storesync_query_duration_seconds", factory: factory)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Sets the store gauges (messages in all and per pubsub topic, disk use, oldest and newest
    /// timestamps) and adds retention's deletions since the last refresh.
    public func refresh(from statistics: StoreStatistics, deletions: RetentionReport) {
        gauge("storesync_messages", Double(statistics.messages))
        for topic in statistics.topics {
            gauge("storesync_topic_messages", Double(topic.messages), [("pubsub_topic", topic.pubsubTopic)])
        }
        gauge("storesync_disk_file_bytes", Double(statistics.disk.fileBytes))
        gauge("storesync_disk_used_bytes", Double(statistics.disk.usedBytes))
        gauge("storesync_disk_cap_bytes", Double(statistics.disk.maximumMapBytes))
        if let archiveBytes = statistics.archiveBytes { gauge("storesync_archive_bytes", Double(archiveBytes)) }
        gauge("storesync_oldest_timestamp_seconds", statistics.oldest.map { Double($0) / 1e9 } ?? 0)
        gauge("storesync_newest_timestamp_seconds", statistics.newest.map { Double($0) / 1e9 } ?? 0)
        let delta = exportedDeletions.withLock { exported -> RetentionReport in
            let delta = RetentionReport(
                byAge: deletions.byAge - exported.byAge, byCount: deletions.byCount - exported.byCount,
                bySize: deletions.bySize - exported.bySize)
            exported = deletions
            return delta
        }
        count("storesync_retention_deleted_total", [("reason", "age")], by: delta.byAge)
        count("storesync_retention_deleted_total", [("reason", "count")], by: delta.byCount)
        count("storesync_retention_deleted_total", [("reason", "size")], by: delta.bySize)
    }

    /// Refreshes the store gauges from `store`, read on its reader threads.
    public func refresh(from store: any MessageArchive) async throws {
        refresh(from: try await store.archiveStatistics(), deletions: store.retentionDeletions)
    }
}
