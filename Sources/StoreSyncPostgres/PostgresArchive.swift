import Logging
import NIOCore
import PostgresNIO
import StoreSyncCore
import StoreSyncLMDB
import Synchronization

/// A message archive in PostgreSQL, with its counted key index in LMDB beside the node.
///
/// Messages live in one table partitioned by time (SPEC.md 4.4). Every write goes to PostgreSQL
/// first and then to the index, so the index never names a message the database lacks for
/// longer than a crash between the two; at open, `reconcileIndex` compares the two partition by
/// partition and rebuilds the index of those that differ. Retention drops whole partitions.
/// Thread-safe; no call blocks its thread: the database is reached through a connection pool on
/// event loops, the index through its own threads.
public final class PostgresArchive: Sendable {
    /// The partitioned table of messages.
    static let messagesTable = "storesync_messages"

    public let configuration: PostgresArchiveConfiguration
    /// The counted key index of what the archive holds.
    public let keyIndex: MessageStore
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>
    /// The partitions as this process last read or changed them, oldest first; nil until read.
    let knownPartitions = Mutex<[Partition]?>(nil)
    /// Deletions by retention since the archive was opened.
    let retentionTotals = Mutex(RetentionReport())
    /// Serializes partition changes of this process (creating, dropping).
    let partitionChanges = PartitionLock()

    private init(
        configuration: PostgresArchiveConfiguration, keyIndex: MessageStore, client: PostgresClient, logger: Logger
    ) {
        self.configuration = configuration
        self.keyIndex = keyIndex
        self.client = client
        self.logger = logger
        running = Task { await client.run() }
    }

    deinit {
        running.cancel()
    }

    /// Connects, brings the schema up to date, opens the key index and heals it where it
    /// differs from the archive. Throws a clear error for an unreachable server, refused
    /// credentials or a schema newer than this build.
    public static func open(
        _ configuration: PostgresArchiveConfiguration, now: UInt64 = WallClock.nanoseconds(),
        logger: Logger = Logger(label: "storesync.postgres")
    ) async throws -> PostgresArchive {
        try await probe(configuration, logger: logger)
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database,
            tls: try configuration.clientTLS())
        clientConfiguration.options.maximumConnections = max(1, configuration.connections)
        clientConfiguration.options.connectTimeout = .milliseconds(Int64(configuration.operationTimeout * 1_000))
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        let indexConfiguration = configuration.index
        let loadDirectory = configuration.indexLoadDirectory
        let index = try await onThreadOfItsOwn {
            if KeyIndexLoader.isInterrupted(scratchDirectory: loadDirectory) {
                logger.notice("the key index was being loaded when the node stopped: removing it to load it again")
                try KeyIndexLoader.removeInterruptedIndex(
                    directory: indexConfiguration.directory, scratchDirectory: loadDirectory)
            }
            return try MessageStore(indexConfiguration)
        }
        let archive = PostgresArchive(configuration: configuration, keyIndex: index, client: client, logger: logger)
        do {
            try await archive.migrate()
            try await archive.ensurePartitions(around: now)
            // A retention pass cut off between the trees and the records finishes first: the
            // index compared below is then whole.
            try await index.write { try $0.resumeKeyRemoval() }
            let healed = try await archive.reconcileIndex()
            if healed.rebuiltPartitions > 0 || healed.removedKeys > 0 {
                logger.notice(
                    "key index healed: \(healed.rebuiltPartitions) of \(healed.partitions) partitions rebuilt (\(healed.indexedKeys) keys), \(healed.removedKeys) keys of no partition removed"
                )
            }
        } catch {
            archive.close()
            throw error
        }
        return archive
    }

    /// One connection, made and closed, so that a server that is not there or refuses the
    /// credentials is reported at once and plainly (the pool would keep retrying).
    private static func probe(_ configuration: PostgresArchiveConfiguration, logger: Logger) async throws {
        let connectionConfiguration = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database,
            tls: try configuration.connectionTLS())
        do {
            let connection = try await withTimeout(configuration.operationTimeout, operation: "connecting") {
                try await PostgresConnection.connect(configuration: connectionConfiguration, id: 0, logger: logger)
            }
            try await connection.close()
        } catch {
            throw PostgresArchiveError.mapped(error, operation: "connecting", location: configuration.location)
        }
    }

    /// Stops the connection pool; calls after this fail with `PostgresArchiveError.closed`.
    public func close() {
        running.cancel()
    }

    /// Runs `body` with the pool, within the operation timeout, mapping failures to the
    /// archive's errors.
    @discardableResult
    func database<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = self.client
        do {
            return try await withTimeout(configuration.operationTimeout, operation: operation) {
                try await body(client)
            }
        } catch {
            throw PostgresArchiveError.mapped(error, operation: operation, location: configuration.location)
        }
    }
}

/// An async lock: one partition change of this process at a time, without parking a thread.
final class PartitionLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { continuation in
            let acquired = state.withLock { state -> Bool in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if acquired { continuation.resume() }
        }
        defer {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiters.isEmpty {
                    state.held = false
                    return nil
                }
                return state.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
