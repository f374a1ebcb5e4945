/// The keys of a storage whose timestamps fall in `[start, end)`, as a storage of their own: the
/// view a responder reconciles when a session names a time window. Nothing is copied; positions
/// are shifted by the window's first position, found once.
public struct WindowedStorage<Base: ReconciliationStorage>: ReconciliationStorage {
    /// The storage viewed.
    public let base: Base
    /// The base positions of the window's keys.
    public let positions: Range<Int>

    /// Creates the view of `base` over timestamps `window` (end exclusive).
    public init(_ base: Base, window: Range<UInt64>) throws {
        self.base = base
        let count = try base.count()
        let lower = try base.lowerBound(of: SyncKey(timestamp: window.lowerBound), in: 0..<count)
        let upper = try base.lowerBound(of: SyncKey(timestamp: window.upperBound), in: lower..<count)
        positions = lower..<upper
    }

    private func shifted(_ range: Range<Int>) -> Range<Int> {
        (range.lowerBound + positions.lowerBound)..<(range.upperBound + positions.lowerBound)
    }

    public func count() -> Int { positions.count }

    public func key(at index: Int) throws -> SyncKey { try base.key(at: index + positions.lowerBound) }

    public func lowerBound(of key: SyncKey, in range: Range<Int>) throws -> Int {
        try base.lowerBound(of: key, in: shifted(range)) - positions.lowerBound
    }

    public func accumulator(of range: Range<Int>) throws -> Accumulator { try base.accumulator(of: shifted(range)) }

    public func forEachKey(in range: Range<Int>, _ body: (SyncKey) throws -> Bool) throws {
        try base.forEachKey(in: shifted(range), body)
    }
}
