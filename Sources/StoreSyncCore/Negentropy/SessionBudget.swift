/// What one reconciliation session may cost a side, whatever its peer sends: a number of rounds
/// and a number of keys enumerated (listed, compared or matched against the peer's ids). The
/// engine checks each charge before it does the work, so a peer that asks for more gets an error
/// instead of the work. Wall time belongs to whoever runs the engine (it has the clock).
public struct SessionBudget: Hashable, Sendable {
    /// The most messages the engine processes in one session.
    public var maximumRounds: Int
    /// The most keys the engine enumerates over the session.
    public var maximumKeys: Int

    /// Creates a budget.
    public init(maximumRounds: Int, maximumKeys: Int) {
        self.maximumRounds = maximumRounds
        self.maximumKeys = maximumKeys
    }

    /// No bound beyond the peer's messages themselves.
    public static let unlimited = SessionBudget(maximumRounds: .max, maximumKeys: .max)

    /// A node's default: 500 rounds and 4M keys, far beyond an honest session over a window of
    /// a few million messages (a handful of rounds; each key listed or compared about once).
    public static let defaults = SessionBudget(maximumRounds: 500, maximumKeys: 4_000_000)
}
