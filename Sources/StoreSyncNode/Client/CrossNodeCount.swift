import StoreSyncCore

/// Message counts of several nodes side by side, bucket by bucket, with the buckets where they
/// disagree (by count or, at equal counts, by fingerprint) and, on request, which keys each node
/// lacks there. Nothing but counts, fingerprints and keys crosses the network.
public struct CrossNodeCount: Sendable {
    /// One time bucket: `[start, end)` ns, and each node's count and fingerprint, in node order.
    public struct Row: Equatable, Sendable {
        public var start: UInt64
        public var end: UInt64
        public var buckets: [BucketCount]
        /// Whether every node holds the same messages in this bucket.
        public var agree: Bool { buckets.dropFirst().allSatisfy { $0 == buckets.first } }
    }

    /// The nodes compared, as named by the caller.
    public var nodes: [String]
    /// Every bucket of the range, oldest first.
    public var rows: [Row]

    /// The rows where the nodes disagree.
    public var disagreements: [Row] { rows.filter { !$0.agree } }

    /// Asks each node for its counts of `filter` in buckets of `bucketWidth` ns.
    public static func gather(
        nodes: [(name: String, client: NodeClient)], filter: CountFilter, bucketWidth: UInt64
    ) async throws -> CrossNodeCount {
        var columns = [[BucketCount]]()
        for node in nodes {
            columns.append(try await node.client.bucketCounts(filter, bucketWidth: bucketWidth))
        }
        var rows = [Row]()
        var rowStart = filter.timeRange.lowerBound
        let end = filter.timeRange.upperBound
        for index in 0..<(columns.first?.count ?? 0) {
            let rowEnd = rowStart + min(bucketWidth, end - rowStart)
            defer { rowStart = rowEnd }
            let buckets = try columns.map { column in
                guard index < column.count else {
                    throw PeerError.unexpected("a node answered \(column.count) buckets, another \(columns[0].count)")
                }
                return column[index]
            }
            rows.append(Row(start: rowStart, end: rowEnd, buckets: buckets))
        }
        return CrossNodeCount(nodes: nodes.map(\.name), rows: rows)
    }

    /// For the messages `filter` selects: per node, in node order, the keys some other node
    /// holds and it lacks.
    public static func missing(nodes: [(name: String, client: NodeClient)], filter: CountFilter) async throws
        -> [[SyncKey]]
    {
        var held = [Set<SyncKey>]()
        for node in nodes { held.append(Set(try await node.client.keys(filter))) }
        let all = held.reduce(into: Set<SyncKey>()) { $0.formUnion($1) }
        return held.map { all.subtracting($0).sorted() }
    }
}
