import PostgresNIO
import StoreSyncLMDB

import struct Foundation.URLComponents

/// How a PostgreSQL archive is reached and laid out.
public struct PostgresArchiveConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// How connections use TLS.
    public var tls: PostgresTLS
    /// The LMDB key index of what the archive holds, under the node's data directory.
    public var index: StoreConfiguration
    /// Where a bulk load of the key index keeps its scratch files; there while a load is
    /// unfinished.
    public var indexLoadDirectory: String { index.directory + "/bulk-load" }
    /// The time one partition of the messages table covers, in seconds.
    public var partitionSeconds: UInt64
    /// Partitions created ahead of the clock, so that ingest at an hour's turn does not wait on
    /// one being created.
    public var partitionsAhead: Int
    /// The most partitions the archive holds: a message that would need one more is refused,
    /// so that timestamps spread over the years cannot make the database create one table each.
    public var maximumPartitions: Int
    /// Connections in the pool.
    public var connections: Int
    /// How long one call may wait on the database, connecting included, in seconds.
    public var operationTimeout: Double
    /// What the archive keeps.
    public var retention: RetentionPolicy

    public static let defaultPartitionSeconds: UInt64 = 3_600
    public static let defaultPartitionsAhead = 2
    public static let defaultMaximumPartitions = 10_000
    public static let defaultConnections = 8
    public static let defaultOperationTimeout = 30.0

    public init(
        host: String, port: Int = 5432, username: String, password: String? = nil, database: String,
        tls: PostgresTLS = PostgresTLS(mode: .prefer), index: StoreConfiguration,
        partitionSeconds: UInt64 = Self.defaultPartitionSeconds,
        partitionsAhead: Int = Self.defaultPartitionsAhead, maximumPartitions: Int = Self.defaultMaximumPartitions,
        connections: Int = Self.defaultConnections, operationTimeout: Double = Self.defaultOperationTimeout,
        retention: RetentionPolicy = .none
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.index = index
        self.partitionSeconds = partitionSeconds
        self.partitionsAhead = partitionsAhead
        self.maximumPartitions = maximumPartitions
        self.connections = connections
        self.operationTimeout = operationTimeout
        self.retention = retention
    }

    /// A configuration from a `postgres://user:password@host:port/database` URL, with
    /// `?sslmode=…&sslrootcert=…&sslcert=…&sslkey=…` as libpq reads them (`PostgresTLS`).
    public init(url: String, index: StoreConfiguration, retention: RetentionPolicy = .none) throws(PostgresArchiveError)
    {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
            let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty
        else {
            throw .invalidURL(
                url: Self.redacted(url), reason: "expected postgres://user[:password]@host[:port]/database")
        }
        let database = String(parts.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw .invalidURL(url: Self.redacted(url), reason: "no database name in its path")
        }
        var parameters: [String: String] = [:]
        for item in parts.queryItems ?? [] {
            guard PostgresTLS.parameters.contains(item.name), let value = item.value else {
                throw .invalidURL(
                    url: Self.redacted(url),
                    reason:
                        "parameter \(item.name) is not read here (only \(PostgresTLS.parameters.joined(separator: ", ")))"
                )
            }
            parameters[item.name] = value
        }
        let tls: PostgresTLS
        do {
            tls = try PostgresTLS.parse(parameters, host: host)
        } catch {
            throw .invalidURL(url: Self.redacted(url), reason: error.reason)
        }
        self.init(
            host: host, port: parts.port ?? 5432, username: user, password: parts.password, database: database,
            tls: tls, index: index, retention: retention)
    }

    /// A URL with its password left out, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? "(a postgres URL)"
    }

    /// Where the archive is, for messages and logs.
    public var location: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    /// The pool's TLS settings; a PEM file that cannot be read is an `invalidURL`.
    func clientTLS() throws(PostgresArchiveError) -> PostgresClient.Configuration.TLS {
        do {
            return try tls.clientTLS()
        } catch {
            throw .invalidURL(url: location, reason: error.reason)
        }
    }

    /// One connection's TLS settings.
    func connectionTLS() throws(PostgresArchiveError) -> PostgresConnection.Configuration.TLS {
        do {
            return try tls.connectionTLS()
        } catch {
            throw .invalidURL(url: location, reason: error.reason)
        }
    }
}
