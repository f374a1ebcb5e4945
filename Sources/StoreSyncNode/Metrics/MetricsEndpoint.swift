import CoreMetrics
import Prometheus
import StoreSyncLMDB

/// A node's metrics kept in a Prometheus registry and rendered in its text format, with the
/// store gauges refreshed at every scrape.
public final class MetricsEndpoint: Sendable {
    /// The registry the metrics live in.
    public let registry: PrometheusCollectorRegistry
    /// The metrics to hand to the node (and to anything else of the node that reports).
    public let metrics: NodeMetrics
    private let store: any MessageArchive

    /// Creates a registry for the metrics of the node serving `store`.
    public init(store: any MessageArchive) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets = NodeMetrics.histogramBuckets
        factory.durationHistogramBuckets = ["storesync_query_duration_seconds": NodeMetrics.latencyBuckets]
        self.registry = registry
        self.metrics = NodeMetrics(factory: factory)
        self.store = store
    }

    /// The metrics in Prometheus text format, store gauges as of now. A store that cannot be
    /// read leaves its gauges as last seen and says so in a comment.
    public func render() async -> String {
        var problem = ""
        do {
            try await metrics.refresh(from: store)
        } catch {
            problem = "# store statistics unavailable: \(error)\n"
        }
        return problem + registry.emitToString()
    }
}
