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
    /// Offered messages refused because no reconcile session of the peer showed them missing.
    public var offersForbidden = 0
    /// Streams closed with an error frame.
    public var streamErrors = 0
    /// Requests refused by a rate limit (429).
    public var requestsLimited = 0
    /// libp2p peers disconnected because their metadata named another Waku cluster.
    public var peersOfOtherClusters = 0
}

/// Thread-safe holder of a node's counts and open connections.
final class NodeCounters: Sendable {
    private let counts = Mutex(NodeCounts())
    private let connections = Mutex<(total: Int, byPeer: [String: Int])>((0, [:]))

    /// Counts a new connection in, unless that would pass a bound; returns whether it was.
    func openConnection(from address: String, total: Int, perPeer: Int) -> Bool {
        connections.withLock { state in
            guard state.total < total, state.byPeer[address, default: 0] < perPeer else { return false }
            state.total += 1
            state.byPeer[address, default: 0] += 1
            return true
        }
    }

    func closeConnection(from address: String) {
        connections.withLock { state in
            state.total -= 1
            let left = state.byPeer[address, default: 1] - 1
            state.byPeer[address] = left > 0 ? left : nil
        }
    }

    /// Connections open now.
    var openConnections: Int { connections.withLock { $0.total } }

    private let sessions = Mutex<(inbound: Int, outbound: Int)>((0, 0))

    /// Takes a sync session slot of its direction unless `maximum` are taken; returns whether it did.
    func openSession(inbound: Bool, maximum: Int) -> Bool {
        sessions.withLock { open in
            if inbound {
                guard open.inbound < maximum else { return false }
                open.inbound += 1
            } else {
                guard open.outbound < maximum else { return false }
                open.outbound += 1
            }
            return true
        }
    }

    func closeSession(inbound: Bool) {
        sessions.withLock { open in
            if inbound { open.inbound -= 1 } else { open.outbound -= 1 }
        }
    }

    /// Sync sessions under way now, in both directions.
    var openSessions: Int { sessions.withLock { $0.inbound + $0.outbound } }

    func update(_ change: (inout NodeCounts) -> Void) {
        counts.withLock { change(&$0) }
    }

    var snapshot: NodeCounts { counts.withLock { $0 } }
}
