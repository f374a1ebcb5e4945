/// Who asks for a service, as the limits see it: the names its rate buckets count under (an IP
/// address; on libp2p also its PeerId), the identity its offer permits belong to, and how logs
/// name it.
struct Requester: Sendable {
    /// How logs name the peer.
    let peer: String
    /// The rate-limit buckets a request takes a token from, all of them.
    let limitKeys: [String]
    /// What a reconcile session's offer permit is granted to and checked against.
    let identity: String
    /// Whether the node takes pushes from it.
    let mayPush: Bool
}
