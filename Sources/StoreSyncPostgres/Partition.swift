/// One partition of the messages table: the table holding timestamps in `range` (ns).
struct Partition: Hashable, Sendable, Comparable {
    var name: String
    var range: Range<Int64>

    static func < (lhs: Partition, rhs: Partition) -> Bool { lhs.range.lowerBound < rhs.range.lowerBound }

    /// The name of the partition starting at `start` ns.
    static func name(start: Int64) -> String { "\(PostgresArchive.messagesTable)_p\(start)" }

    /// Parses the bound expression PostgreSQL gives for a range partition of one column:
    /// `FOR VALUES FROM ('a') TO ('b')`.
    static func parse(name: String, bound: String) -> Partition? {
        let numbers = bound.split { !($0.isNumber || $0 == "-") }.compactMap { Int64($0) }
        guard numbers.count == 2, numbers[0] < numbers[1] else { return nil }
        return Partition(name: name, range: numbers[0]..<numbers[1])
    }
}
