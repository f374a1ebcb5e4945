import StoreSyncCore
import StoreSyncLMDB
import StoreSyncPostgres

/// Copies a reference Waku node's PostgreSQL archive into an archive of this node's: every row is
/// decoded, its message hashed and compared with the hash the row names (a mismatch is counted
/// and not stored), and what passes the size rule is stored in pages. Progress is a marker in the
/// archive's key index, written after each page is stored: an import cut short starts again at
/// the timestamp it had reached (the rows of that timestamp come again as duplicates).
public struct NwakuImport: Sendable {
    /// What an import did.
    public struct Report: Sendable, Equatable {
        /// Rows read from the reference node's archive.
        public var read = 0
        /// What became of the messages handed to the archive, and rows that made no message.
        public var counts = StoreCounts()
        /// Rows whose message does not hash to the hash they name: never stored.
        public var mismatched = 0
        /// The first mismatched rows' hashes, as stored.
        public var mismatchedHashes: [String] = []
        /// The timestamp a resumed import started from; nil for one from the beginning.
        public var resumedFrom: Int64?
        /// Rows there were to read when the import started.
        public var total = 0

        public init() {}
    }

    /// Rows read and stored per page.
    public var pageSize: Int
    /// The largest message imported, in bytes of its protobuf encoding.
    public var maximumMessageSize: Int
    /// Mismatched hashes kept in the report.
    public static let reportedMismatches = 20

    public init(pageSize: Int = 5_000, maximumMessageSize: Int = MessageAdmission.defaultMaximumMessageSize) {
        self.pageSize = max(1, pageSize)
        self.maximumMessageSize = maximumMessageSize
    }

    /// The marker holding an import's progress from the archive at `location`.
    public static func marker(for location: String) -> String { "nwaku-import/\(location)" }

    /// Imports everything from the resume point on; `progress` is told after each page. Stops
    /// between pages when its task is cancelled (the next run resumes).
    public func run(
        from source: NwakuArchiveReader, into archive: any MessageArchive,
        progress: @Sendable (Report) -> Void = { _ in }
    ) async throws -> Report {
        let marker = Self.marker(for: source.location)
        let resume = try await archive.keyIndex.read { try $0.marker(marker) }
        var report = Report()
        report.resumedFrom = resume.map { Int64(clamping: $0) }
        let start = report.resumedFrom ?? 0
        report.total = try await source.count(from: start)
        let hasher = SHA256Hasher()
        var cursor: (timestamp: Int64, hash: String)?
        var next = try await source.page(from: start, after: nil, limit: pageSize)
        while !next.isEmpty {
            try Task.checkCancellation()
            let rows = next
            if let last = rows.last { cursor = (last.timestamp, last.storedHash) }
            let after = cursor
            // The next page is read while this one is stored.
            async let following =
                rows.count < pageSize ? [] : source.page(from: start, after: after, limit: pageSize)
            var accepted: [WakuMessage] = []
            for row in rows {
                report.read += 1
                switch row.message {
                case .failure:
                    report.counts.rejected += 1
                case .success(let message):
                    guard let claimed = row.claimedHash, message.hash(using: hasher) == claimed else {
                        report.mismatched += 1
                        report.counts.rejected += 1
                        if report.mismatchedHashes.count < Self.reportedMismatches {
                            report.mismatchedHashes.append(row.storedHash)
                        }
                        continue
                    }
                    if MessageAdmission.sizeRefusal(of: message, maximum: maximumMessageSize) != nil {
                        report.counts.rejected += 1
                        continue
                    }
                    accepted.append(message)
                }
            }
            for outcome in try await archive.ingest(accepted).outcomes { report.counts.count(outcome) }
            if let last = rows.last, last.timestamp >= 0 {
                let reached = UInt64(last.timestamp)
                try await archive.keyIndex.write { try $0.setMarkers([marker: reached]) }
            }
            progress(report)
            next = try await following
        }
        return report
    }
}
