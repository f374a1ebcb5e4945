import ArgumentParser
import Foundation
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncPostgres

/// The `--archive` flags of the commands that store messages: the LMDB store in the data
/// directory by default, or a PostgreSQL archive with its key index in the data directory.
struct ArchiveOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Keep messages in PostgreSQL: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the password may come from PGPASSWORD instead). The key index stays in --data-dir.",
            valueName: "url"))
    var archive: String?

    @Option(help: "Seconds of messages one partition of the PostgreSQL archive holds.")
    var archivePartitionSeconds = PostgresArchiveConfiguration.defaultPartitionSeconds

    @Option(help: "Connections to PostgreSQL in the pool.")
    var archiveConnections = PostgresArchiveConfiguration.defaultConnections

    @Option(help: "Seconds one call may wait on PostgreSQL, connecting included.")
    var archiveTimeout = PostgresArchiveConfiguration.defaultOperationTimeout

    func validate() throws {
        guard archivePartitionSeconds >= 60, archiveConnections > 0, archiveTimeout > 0 else {
            throw ValidationError("partitions cover at least 60 s; connections and timeout must be positive")
        }
    }

    /// The directory of the key index beside a PostgreSQL archive.
    static func indexDirectory(_ dataDir: String) -> String { dataDir + "/postgres-index" }

    /// Opens the archive, or explains why it cannot be opened and exits 1.
    func open(
        dataDir: String, retention: RetentionPolicy,
        readerThreads: Int = StoreConfiguration.defaultReaderThreads
    ) async throws -> any MessageArchive {
        guard let archive else {
            return try openStore(dataDir, retention: retention, readerThreads: readerThreads)
        }
        do {
            var configuration = try PostgresArchiveConfiguration(
                url: archive,
                index: StoreConfiguration(directory: Self.indexDirectory(dataDir), readerThreads: readerThreads),
                retention: retention)
            if configuration.password == nil {
                configuration.password = ProcessInfo.processInfo.environment["PGPASSWORD"]
            }
            configuration.partitionSeconds = archivePartitionSeconds
            configuration.connections = archiveConnections
            configuration.operationTimeout = archiveTimeout
            return try await PostgresArchive.open(configuration)
        } catch {
            printError(explain(error, dataDirectory: Self.indexDirectory(dataDir)))
            throw ExitCode(1)
        }
    }
}
