import Synchronization

/// Counts a node keeps of what it served and refused (exported as metrics by the operations work).
public struct NodeCounts: Sendable, Equatable {
    /// Reconcile streams served.
    public var reconcileSessions = 0
    /// Messages sent to peers that fetched them.
    public var messagesServed = 0
    /// Messages stored from offers and pushes.
    public var messagesStored = 0
    /// Offered or pushed messages refused (hash mismatch, wrong topic or window, invalid).
    public var messagesRejected = 0
    /// Streams closed with an error frame.
    public var streamErrors = 0
    /// Requests refused by a rate limit (429).
    public var requestsLimited = 0
}

/// Thread-safe holder of a node's counts.
final class NodeCounters: Sendable {
    private let counts = Mutex(NodeCounts())

    func update(_ change: (inout NodeCounts) -> Void) {
        counts.withLock { change(&$0) }
    }

    var snapshot: NodeCounts { counts.withLock { $0 } }
}
