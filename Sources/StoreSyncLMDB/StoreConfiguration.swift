/// How a store is opened.
public struct StoreConfiguration: Sendable {
    /// Whether a commit waits for the disk.
    public enum Durability: Sendable {
        /// Every commit is on disk when it returns: survives power loss.
        case full
        /// Commits reach the OS but are not flushed: survives a crash of the process, not of the
        /// machine. For benchmarks and for nodes that can re-sync what a power cut loses.
        case noSync
    }

    /// The directory holding `data.mdb` and `lock.mdb`; created if missing.
    public var directory: String
    /// The map size to start with, in bytes (rounded to whole pages by LMDB).
    public var initialMapSize: Int
    /// The largest the map may grow to; a write that needs more fails with `StoreError.mapFull`.
    public var maximumMapSize: Int
    /// Commit durability.
    public var durability: Durability
    /// The most concurrent read snapshots across all processes using the directory.
    public var maximumReaders: UInt32
    /// Writes go straight into the memory map instead of through `write(2)` at commit: several
    /// times faster for small transactions. The data file then has the map's size as its
    /// apparent length (it is sparse: disk use is what is written).
    public var writeMap: Bool
    /// What the store keeps; a size cap also caps the map, so the data file never grows past it.
    public var retention: RetentionPolicy
    /// Threads that serve the store's async reads (snapshots, queries, counts, statistics).
    /// Writes have one thread of their own.
    public var readerThreads: Int

    /// Creates a configuration with defaults: 64 MiB to start, growing up to 1 TiB, full sync,
    /// everything kept.
    public init(
        directory: String,
        initialMapSize: Int = 64 << 20,
        maximumMapSize: Int = 1 << 40,
        durability: Durability = .full,
        maximumReaders: UInt32 = 256,
        writeMap: Bool = false,
        retention: RetentionPolicy = .none,
        readerThreads: Int = StoreConfiguration.defaultReaderThreads
    ) {
        self.directory = directory
        self.initialMapSize = initialMapSize
        self.maximumMapSize = maximumMapSize
        self.durability = durability
        self.maximumReaders = maximumReaders
        self.writeMap = writeMap
        self.retention = retention
        self.readerThreads = readerThreads
    }

    /// Reader threads by default: two, enough to keep serving while one read runs long.
    public static let defaultReaderThreads = 2

    /// The largest the map may grow to: the maximum, lowered to the size cap of the retention
    /// policy (in whole 4 KiB pages) when there is one.
    var effectiveMaximumMapSize: Int {
        guard let cap = retention.maximumBytes else { return maximumMapSize }
        return min(maximumMapSize, cap & ~4_095)
    }

    /// The map size to start with, never above the effective maximum.
    var effectiveInitialMapSize: Int { min(initialMapSize, effectiveMaximumMapSize) }
}
