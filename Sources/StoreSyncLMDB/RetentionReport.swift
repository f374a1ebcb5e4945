/// Messages deleted by retention, by the limit that made them go.
public struct RetentionReport: Equatable, Sendable {
    /// Older than the maximum age.
    public var byAge = 0
    /// Beyond the maximum count.
    public var byCount = 0
    /// Deleted to keep the data file under its size cap.
    public var bySize = 0

    public init(byAge: Int = 0, byCount: Int = 0, bySize: Int = 0) {
        self.byAge = byAge
        self.byCount = byCount
        self.bySize = bySize
    }

    /// All deletions.
    public var total: Int { byAge + byCount + bySize }

    public static func + (lhs: RetentionReport, rhs: RetentionReport) -> RetentionReport {
        RetentionReport(
            byAge: lhs.byAge + rhs.byAge, byCount: lhs.byCount + rhs.byCount, bySize: lhs.bySize + rhs.bySize)
    }
}
