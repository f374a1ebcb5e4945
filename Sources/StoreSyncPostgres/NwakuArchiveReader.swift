import Logging
import PostgresNIO
import StoreSyncCore

/// Reads the archive of a reference Waku node (nwaku) in PostgreSQL: its `messages` table of
/// schema version 7 or 8, whose hash, payload and meta columns hold hexadecimal text. Rows come
/// in (timestamp, messageHash) order, a page at a time, so that a reader can stop anywhere and
/// start again from a timestamp.
public final class NwakuArchiveReader: Sendable {
    /// The schema versions of the reference node's `version` table this reader knows.
    public static let supportedVersions = 7...8

    /// One row, as stored and as understood.
    public struct Row: Sendable {
        /// The row's timestamp and hash text: where the next page starts.
        public var timestamp: Int64
        public var storedHash: String
        /// The hash the row names, nil when it is not 32 bytes of hex.
        public var claimedHash: MessageHash?
        /// The message the columns make, or why they make none.
        public var message: Result<WakuMessage, RowError>
    }

    /// Why a row makes no message.
    public struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public let location: String
    public let schemaVersion: Int
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger

    private init(
        location: String, schemaVersion: Int, client: PostgresClient, running: Task<Void, Never>, logger: Logger
    ) {
        self.location = location
        self.schemaVersion = schemaVersion
        self.client = client
        self.running = running
        self.logger = logger
    }

    deinit {
        running.cancel()
    }

    /// Connects to the reference node's database at `url` and checks its schema version.
    public static func open(url: String, password: String? = nil, logger: Logger = Logger(label: "storesync.nwaku"))
        async throws -> NwakuArchiveReader
    {
        let parsed = try PostgresArchiveConfiguration(url: url, index: .init(directory: ""))
        var configuration = PostgresClient.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password ?? password,
            database: parsed.database, tls: try parsed.clientTLS())
        configuration.options.maximumConnections = 2
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let running = Task { await client.run() }
        let version: Int
        do {
            version = try await withTimeout(parsed.operationTimeout, operation: "reading the schema version") {
                try await client.query("SELECT max(version) FROM version", logger: logger).integer()
            }
        } catch {
            running.cancel()
            throw PostgresArchiveError.mapped(
                error, operation: "reading the reference node's schema version", location: parsed.location)
        }
        guard supportedVersions.contains(version) else {
            running.cancel()
            throw PostgresArchiveError.database(
                operation: "reading the reference node's archive",
                detail:
                    "its schema is version \(version); versions \(supportedVersions.lowerBound) to \(supportedVersions.upperBound) can be imported"
            )
        }
        return NwakuArchiveReader(
            location: parsed.location, schemaVersion: version, client: client, running: running, logger: logger)
    }

    /// Stops the reader's connections.
    public func close() {
        running.cancel()
    }

    /// Rows from `start` on (timestamp at least that), after `cursor` when given, at most `limit`.
    public func page(from start: Int64, after cursor: (timestamp: Int64, hash: String)?, limit: Int) async throws
        -> [Row]
    {
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT timestamp, messageHash, pubsubTopic, contentTopic, payload, version, meta
                FROM messages WHERE timestamp >= $1
                """)
        query.binds.append(start)
        if let cursor {
            query.binds.append(cursor.timestamp)
            query.binds.append(cursor.hash)
            query.sql += " AND (timestamp, messageHash) > ($2, $3)"
        }
        query.binds.append(limit)
        query.sql += " ORDER BY timestamp, messageHash LIMIT $\(query.binds.count)"
        let finished = query
        let client = self.client
        let logger = self.logger
        do {
            return try await withTimeout(
                PostgresArchiveConfiguration.defaultOperationTimeout, operation: "reading rows"
            ) {
                var rows: [Row] = []
                for try await (timestamp, hash, pubsub, content, payload, version, meta) in try await client.query(
                    finished, logger: logger
                ).decode((Int64, String, String, String, String?, Int, String?).self) {
                    rows.append(Self.row(timestamp, hash, pubsub, content, payload, version, meta))
                }
                return rows
            }
        } catch {
            throw PostgresArchiveError.mapped(
                error, operation: "reading the reference node's messages", location: location)
        }
    }

    /// Rows from `start` on: how many an import has left.
    public func count(from start: Int64) async throws -> Int {
        let client = self.client
        let logger = self.logger
        do {
            return try await withTimeout(
                PostgresArchiveConfiguration.defaultOperationTimeout, operation: "counting rows"
            ) {
                try await client.query(
                    "SELECT count(*) FROM messages WHERE timestamp >= \(start)", logger: logger
                ).integer()
            }
        } catch {
            throw PostgresArchiveError.mapped(
                error, operation: "counting the reference node's messages", location: location)
        }
    }

    /// The row's columns decoded: hex text (either case, with or without 0x) to bytes, an empty
    /// or missing meta to none.
    static func row(
        _ timestamp: Int64, _ hash: String, _ pubsub: String, _ content: String, _ payload: String?, _ version: Int,
        _ meta: String?
    ) -> Row {
        func bytes(_ text: String?) -> [UInt8]? {
            guard var text, !text.isEmpty else { return [] }
            if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
            return Hex.decode(text)
        }
        let claimed = bytes(hash).flatMap { MessageHash(bytes: $0) }
        let message: Result<WakuMessage, RowError>
        if let payload = bytes(payload), let meta = bytes(meta), (0...Int(UInt32.max)).contains(version) {
            do {
                message = .success(
                    try WakuMessage(
                        pubsubTopic: pubsub, contentTopic: content, payload: payload, meta: meta.isEmpty ? nil : meta,
                        timestamp: timestamp, version: UInt32(version)))
            } catch {
                message = .failure(RowError(description: "\(error)"))
            }
        } else {
            message = .failure(
                RowError(description: "payload or meta is not hexadecimal text, or the version is out of range"))
        }
        return Row(timestamp: timestamp, storedHash: hash, claimedHash: claimed, message: message)
    }
}
