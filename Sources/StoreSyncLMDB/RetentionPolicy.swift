/// What a store keeps: messages younger than an age, at most a number of messages, and a data
/// file no larger than a size. Each limit is optional; with several, a message goes as soon as
/// one of them says so, oldest first.
public struct RetentionPolicy: Hashable, Sendable, CustomStringConvertible {
    /// The oldest a message may be, in seconds, measured from its timestamp.
    public var maximumAgeSeconds: UInt64?
    /// The most messages kept, over all pubsub topics.
    public var maximumCount: Int?
    /// The largest the data file may become, in bytes: a hard cap (the map size is set from it).
    public var maximumBytes: Int?

    public init(maximumAgeSeconds: UInt64? = nil, maximumCount: Int? = nil, maximumBytes: Int? = nil) {
        self.maximumAgeSeconds = maximumAgeSeconds
        self.maximumCount = maximumCount
        self.maximumBytes = maximumBytes
    }

    /// Keep everything.
    public static let none = RetentionPolicy()

    /// Whether the policy keeps everything.
    /// The timestamp (ns) below which the age limit deletes messages at `now`; nil without one.
    public func ageFloor(now: UInt64) -> UInt64? {
        guard let age = maximumAgeSeconds else { return nil }
        let (span, overflow) = age.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow || span >= now ? 0 : now - span
    }

    public var keepsEverything: Bool { maximumAgeSeconds == nil && maximumCount == nil && maximumBytes == nil }

    /// The smallest size cap accepted: room for the store's own pages and a useful archive.
    public static let minimumBytes = 1 << 20

    public var description: String {
        var parts = [String]()
        if let age = maximumAgeSeconds { parts.append("time:\(age)") }
        if let count = maximumCount { parts.append("capacity:\(count)") }
        if let bytes = maximumBytes {
            parts.append(bytes % (1 << 30) == 0 ? "size:\(bytes >> 30)gb" : "size:\(bytes >> 20)mb")
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}
