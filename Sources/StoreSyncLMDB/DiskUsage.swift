/// How much of its disk a store uses: the data file, the map that bounds it, and the pages in
/// use versus free for reuse (LMDB never shrinks its file; freed pages are reused by later
/// writes).
public struct DiskUsage: Equatable, Sendable {
    /// The data file's length in bytes.
    public var fileBytes: Int
    /// The memory map's size: the most the file can grow to without growing the map.
    public var mapBytes: Int
    /// The most the map may grow to (the size cap of the retention policy, if any).
    public var maximumMapBytes: Int
    /// The database page size.
    public var pageSize: Int
    /// Pages holding live data (including LMDB's own meta and free-list pages).
    public var usedPages: Int
    /// Pages ever written: the high-water mark within the file.
    public var allocatedPages: Int

    /// Bytes of live data.
    public var usedBytes: Int { usedPages * pageSize }
    /// Pages written once and free now, reusable by later writes.
    public var freePages: Int { max(0, allocatedPages - usedPages) }
}
